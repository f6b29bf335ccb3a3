// Initial snapshot: reads every selected table as `r` records made by the extension's encoder
// (snowcdc.encode_rows), in parallel block ranges, before the shipper streams WAL from the slot's
// consistent point. Progress lives in the sink (SnapshotStore): the plan, and per (table, range)
// stream the last record it holds durably, so a crash resumes each range after what it holds.
//
// Why resuming is sound although the exported snapshot dies with the process that created the
// slot: the slot survives, its consistent point is fixed and the WAL since then is retained.
// A resumed range is re-read under a NEW snapshot (a plain REPEATABLE READ transaction), still
// labelled lsn = consistent_point - 1. Its rows may be newer than the consistent point, but
// every change committed after the consistent point is replayed from the slot afterwards with a
// higher (lsn, seq), and the warehouse merge is idempotent per key and ordered by (lsn, seq):
//   - a row changed after the consistent point: its newer image arrives as `r`, then its `u`
//     (same image again) is applied on top -- same final state;
//   - a row deleted after the consistent point: absent from the re-read, its `d` is replayed
//     (a delete of a missing key is a no-op);
//   - a row inserted after the consistent point: maybe read as `r`, then its `c` is replayed.
// Known imprecision: the history (SCD2) table may hold a newer image labelled at snapshot time.
// Tables rewritten (VACUUM FULL, CLUSTER, TRUNCATE) move rows to other ctids, so resuming
// "after ctid" could skip rows. Each range records its table's relfilenode: a resume re-plans
// a table whose relfilenode changed and reads it again from the start into new streams (its
// rows already sent stay: the merge keeps one per key, the history table holds them twice),
// and a reader that finds the relfilenode changed under it (checked with the table locked,
// so no rewrite can follow while it reads) stops with a retryable error that leads there.
//
// Ordering: `r` records carry lsn = consistent_point - 1, never the start of a WAL record and so
// never a commit LSN: every snapshot row sorts before every WAL change, including a transaction
// whose commit record starts exactly at the consistent point (it is decoded, not in the snapshot).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pg_connection.hpp"

namespace snowcdc {

// heap tuples per 8 kB page; snowcdc.snapshot_seq(ctid) = block * 291 + offset - 1.
constexpr uint64_t kSnapshotTuplesPerPage = 291;

struct SnapshotRange {
    std::string table;  // quoted "schema"."table", as regclass text
    uint32_t relid = 0;
    int part = 0;
    int64_t block_from = 0;
    std::optional<int64_t> block_to;  // nullopt: to the end of the table
    bool done = false;
    // The table's pg_relation_filenode when the range was planned (0: not recorded). A rewrite
    // (VACUUM FULL, CLUSTER, TRUNCATE) changes it and moves rows to other ctids.
    uint32_t relfilenode = 0;
    // Bumped each time the table is planned again after a rewrite, so the new ranges write to
    // new streams whose (empty) committed positions hide nothing.
    int generation = 0;

    // The sink stream of this range: snap_<relid>_<part>, or snap_<relid>_<part>_g<generation>.
    std::string StreamName() const;
};

struct SnapshotPlan {
    enum class State { kCreating, kReading, kDone } state = State::kCreating;
    uint64_t consistent_point = 0;
    std::string snapshot_time;  // timestamptz text, the `ts` of every `r` record
    std::vector<SnapshotRange> ranges;
    // Streams of ranges replaced after a rewrite: released with the others by Finish().
    std::vector<std::string> retired_streams;

    // lsn of every `r` record (see the comment at the top).
    uint64_t RecordLsn() const { return consistent_point - 1; }
    std::string ToJson() const;
    // Throws std::runtime_error naming what is malformed.
    static SnapshotPlan FromJson(const std::string &text);
};

// Failures of the snapshot's own storage: not retryable by reconnecting.
class SnapshotStoreError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One range's records, appended in seq order.
class SnapshotWriter {
  public:
    virtual ~SnapshotWriter() = default;
    // `record` without the trailing newline. Throws SnapshotStoreError.
    virtual void Append(std::string_view record) = 0;
    // Makes everything appended durable. Throws SnapshotStoreError.
    virtual void Commit() = 0;
    // A progress point every snapshot_commit_bytes: by default a Commit(). A store whose
    // commits take long (Snowpipe: seconds) may let the reader go on while the data of this
    // point commits, as long as what the previous point covered is durable (memory stays
    // bounded; a resume re-reads at most two points' worth). Throws SnapshotStoreError.
    virtual void Checkpoint() { Commit(); }
};

// Where a sink keeps snapshot progress. Writers of different streams are used from different
// threads at once; LoadPlan/SavePlan are called by one thread at a time.
class SnapshotStore {
  public:
    virtual ~SnapshotStore() = default;
    virtual std::optional<SnapshotPlan> LoadPlan() = 0;
    virtual void SavePlan(const SnapshotPlan &plan) = 0;
    // Opens `stream` for appending; *committed = seq of the last record it holds (nullopt: none).
    virtual std::unique_ptr<SnapshotWriter> OpenStream(const std::string &stream,
                                                       std::optional<uint64_t> *committed) = 0;
    // Every range of `plan` is done: releases what the streams hold on the sink's side
    // (Snowpipe: drops the ranges' channels). Called before the plan is saved as done, so a
    // crash in between calls it again; must be idempotent. Throws SnapshotStoreError.
    virtual void Finish(const SnapshotPlan &plan) { (void)plan; }
};

struct SnapshotOptions {
    std::string conninfo;
    // Comma-separated schema.table patterns, '*' any characters; "" = the plugin's filter below.
    std::string tables;
    // The plugin's include-tables and exclude-tables patterns ("" = all, none).
    std::string include_tables;
    std::string exclude_tables;
    int parallelism = 2;
    int64_t range_blocks = 16384;  // blocks per range (128 MB of heap)
    bool numeric_as_string = false;
    size_t commit_bytes = 8u << 20;  // a range's stream commits after this many bytes
    std::function<bool()> stop;      // polled at each commit: true ends the read early
};

// The error ReadSnapshot returns when options.stop said so (what is committed stays).
constexpr const char *kSnapshotStopped = "snapshot stopped on request";

// Lists the selected tables and splits them into ranges, on `conn` (whose transaction should
// use the exported snapshot). Fills plan->ranges and plan->snapshot_time.
std::optional<PgError> PlanSnapshot(PgConn &conn, const SnapshotOptions &options,
                                    SnapshotPlan *plan);

// Reads every range of `plan` that is not done, `options.parallelism` connections at once,
// under `exported_snapshot` ("" = a new REPEATABLE READ snapshot per connection: a resume),
// marking each range done in the plan (saved to `store`) once its stream committed.
// Postgres failures are returned (retry); store failures throw SnapshotStoreError.
std::optional<PgError> ReadSnapshot(SnapshotPlan *plan, SnapshotStore *store,
                                    const SnapshotOptions &options,
                                    const std::string &exported_snapshot);

// A plan file replaced atomically (write, fsync, rename, fsync the directory); nullopt when
// it does not exist. `also_remove` completes the fix named when the file is unreadable.
// Both throw SnapshotStoreError.
std::optional<SnapshotPlan> LoadPlanFile(const std::string &path, const std::string &also_remove);
void SavePlanFile(const std::string &path, const SnapshotPlan &plan);

// The snapshot store of the ndjson-dir sink: snapshot-plan.json (replaced atomically) and one
// file snap_<relid>_<part>.ndjson per range, whose last complete line is what it holds.
std::unique_ptr<SnapshotStore> MakeNdjsonSnapshotStore(const std::string &directory);

}  // namespace snowcdc
