// The sink interface: where batches of records go, and how the shipper learns what has
// been made durable. A sink may deliver over several channels in parallel and learn of
// commits later than it accepted the data, so delivery and durability are separate calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace snowcdc {

class SnapshotStore;
class Settings;

// Position of a record in the change stream: (commit LSN, seq), totally ordered.
struct StreamPosition {
    uint64_t lsn = 0;
    uint32_t seq = 0;

    friend bool operator==(const StreamPosition &a, const StreamPosition &b) {
        return a.lsn == b.lsn && a.seq == b.seq;
    }
    friend bool operator!=(const StreamPosition &a, const StreamPosition &b) { return !(a == b); }
    friend bool operator<(const StreamPosition &a, const StreamPosition &b) {
        return a.lsn < b.lsn || (a.lsn == b.lsn && a.seq < b.seq);
    }
    friend bool operator<=(const StreamPosition &a, const StreamPosition &b) { return !(b < a); }
    friend bool operator>(const StreamPosition &a, const StreamPosition &b) { return b < a; }
    friend bool operator>=(const StreamPosition &a, const StreamPosition &b) { return !(a < b); }
};

// What the shipper read of one record without parsing all of it.
struct RecordMeta {
    StreamPosition pos;
    uint64_t route_hash = 0;  // hash of (schema, table, key): every version of a row shares it
    uint32_t offset = 0;      // where the record's bytes start in Batch::data
    uint32_t length = 0;      // the record's length, without the trailing '\n'
    char op = 0;              // 'c', 'u', 'd', 't', 'm' or 'r'
};

// Records in stream order, stored back to back as NDJSON (each followed by '\n').
struct Batch {
    uint64_t id = 0;
    std::string data;
    std::vector<RecordMeta> records;

    std::string_view RecordText(size_t i) const {
        return std::string_view(data).substr(records[i].offset, records[i].length);
    }
    StreamPosition Last() const { return records.back().pos; }
};

// A failure the shipper cannot recover from by retrying; it stops with this message.
struct SinkError {
    std::string message;  // names the object and the fix
};

class Sink {
  public:
    virtual ~Sink() = default;

    // Connects and recovers. Returns the highest position the sink already holds durably:
    // the shipper skips every record at or below it (a replay after a crash).
    virtual std::optional<StreamPosition> Open() = 0;

    // Takes a non-empty batch whose records all sort after everything submitted before.
    // Returns at once; the sink keeps the batch until its records are durable.
    virtual void Submit(Batch batch) = 0;

    // Bytes submitted and not yet durable; the shipper stops reading while this is too high.
    virtual size_t InFlightBytes() const = 0;

    // Every submitted record at or below this position is durable. Never moves backwards.
    virtual std::optional<StreamPosition> DurablePosition() const = 0;

    // Makes progress (I/O, retries, commit polling) and returns by `deadline` at the latest.
    // A fatal error is returned as a value; retryable ones are handled inside.
    virtual std::optional<SinkError> Poll(std::chrono::steady_clock::time_point deadline) = 0;

    // Stops accepting data and releases connections. In-flight data that was not durable
    // is simply replayed after the next start.
    virtual void Close() = 0;

    // Where the initial snapshot's plan and per-range streams go (snapshot.hpp); nullptr when
    // the sink cannot hold a snapshot. Valid after Open().
    virtual SnapshotStore *Snapshots() { return nullptr; }

    // Applies the sink's reloadable settings after SIGHUP (sinks without any ignore it).
    virtual void Reload(const Settings &) {}
};

}  // namespace snowcdc
