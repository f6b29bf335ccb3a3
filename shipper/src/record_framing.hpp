// Record framing: reads just what the shipper needs of one v1 record (op, lsn, seq, xid, ts,
// end_lsn, schema, table, the raw key, a message's prefix) with a single pass over the JSON
// text and no allocation, so the record's bytes can be forwarded unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace snowcdc {

enum class RecordKind { kBegin, kCommit, kChange, kMessage };

struct FramedRecord {
    RecordKind kind = RecordKind::kChange;
    char op = 0;           // 'c','u','d','t','r','m' (changes and messages), 'B'/'C' begin/commit
    uint64_t lsn = 0;      // commit LSN (begin: as the plugin reports it)
    uint64_t end_lsn = 0;  // commit only: end of the commit record, what Postgres is told
    uint32_t seq = 0;      // position within the transaction
    bool has_seq = false;  // false for begin/commit and non-transactional messages
    uint64_t xid = 0;
    int64_t ts = 0;             // commit time, microseconds since the Unix epoch
    bool transactional = true;  // messages only
    std::string_view schema;    // raw JSON string contents (escapes kept)
    std::string_view table;
    std::string_view key;     // raw JSON object text, empty when the record has no key
    std::string_view prefix;  // messages only

    // Hash of (schema, table, key): every version of a row shares it, so partitioning by it
    // keeps each row's versions in order on one channel.
    uint64_t RouteHash() const;
};

// Returns the record's fields, or nullopt with *error naming what is wrong with the text.
std::optional<FramedRecord> FrameRecord(std::string_view text, std::string *error);

}  // namespace snowcdc
