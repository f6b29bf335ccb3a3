// Re-snapshot of one table while streaming, in the manner of DBLog and Debezium's incremental
// snapshots: the table is read in key-ordered chunks between a low and a high watermark
// (transactional `snowcdc.watermark` messages) and each chunk is merged into the WAL stream at
// its high watermark, with no lock on the table and no pause of the stream. Requests and their
// durable progress live in the extension's snowcdc.snapshot_request table (snowcdc 1.1).
//
// Per chunk, on a normal connection, in three transactions one after the other:
//   1. commit the low watermark L;
//   2. select the chunk: the next `resnapshot_chunk_rows` rows after the last key, in key order;
//   3. commit the high watermark H.
// In the stream, between L and H, every c/u/d change of the table whose raw `key` text equals a
// chunk row's removes that row from the chunk (a truncate of the table removes all of them); at
// H the remaining rows are emitted as `r` records at H's place: lsn = H's commit LSN, seq after
// the message's seq, ts = H's commit time.
//
// Why the landing table ends right (a key K in the chunk's range):
//   - A change of K committed before L is visible to the select (its transaction starts after L
//     committed), so the chunk row is at least that new, and the change itself sorts before H.
//   - A change of K committed between L and H is in the stream between L and H (changes are
//     decoded in commit order), so it removes K's chunk row, whether the select saw the change
//     or not: the change itself carries K's state, and no stale `r` can land after it. An
//     update that changes the key from K to K' carries the old key K, which removes K; a row K'
//     the select saw already holds the update's values, and is removed too if K' changes again
//     before H.
//   - A change of K committed after H sorts after every `r` of the chunk by (lsn, seq).
//   - A row deleted before L is not selected; a row deleted between L and H is removed from the
//     chunk by its delete. So nothing is resurrected, and every row that exists throughout the
//     chunk's window and is not changed in it gets an `r` record with its current values.
//
// "Committed before L" means before L in the WAL, and Postgres makes a commit visible to new
// snapshots only after writing its WAL record: a transaction T whose commit record precedes L
// can still be invisible to the chunk's select (it is then in the select snapshot's xip list).
// Its change is before L in the stream, so no watermark window would catch it, and the chunk
// would carry the row's older version. So the select records its snapshot's xip list, the
// shipper remembers the xids of the last kRecentCommits commits it read, and at L a chunk whose
// snapshot missed a transaction that committed before L is thrown away and read again.
//
// The merge is ordered by (lsn, seq) and idempotent per key, so the sink may receive a chunk
// twice: after a crash, the chunk after the last durable one is read again, under new
// watermarks. Every chunk read gets its own token (this process's random token and a counter),
// and only the watermarks of the chunk read last count: watermarks of another process, of a
// chunk abandoned at a reconnect or read again, replay harmlessly.
//
// Spec note: cdc-record-v1 says a snapshot row sorts before every WAL change of its table; a
// re-snapshot `r` sorts at its chunk's high watermark instead, after the changes before it.
//
// Progress (the chunk's last key, rows, chunk number) is written to the request table only when
// the tracker has confirmed H's commit, that is when the sink holds everything up to H durably.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics.hpp"
#include "pg_connection.hpp"
#include "record_framing.hpp"
#include "settings.hpp"
#include "sink.hpp"

namespace snowcdc {

// `snowcdc-shipper resnapshot --table schema.table [--cancel]`: files (or cancels) a request
// through the extension and prints the table's requests. Returns the exit status.
int RunResnapshotCommand(const Settings &settings, const std::string &table, bool cancel);

// Replaces the placeholder lsn, seq and ts at the start of an `r` record made by
// snowcdc.encode_row ({"op":"r","lsn":..,"seq":..,"ts":..,...}). nullopt when the text does
// not start that way.
std::optional<std::string> RewriteSnapshotEnvelope(std::string_view text, uint64_t lsn,
                                                   uint32_t seq, int64_t ts);

// One chunk's rows between its watermarks: the pure merge logic.
class ChunkWindow {
  public:
    struct Row {
        std::string record;  // the `r` record with placeholder lsn/seq/ts
        std::string key;     // its raw `key` JSON text, as record framing reads it
    };
    // `schema` and `table`: the raw JSON string contents, as record framing reads them.
    ChunkWindow(std::string schema, std::string table, std::vector<Row> rows);
    // Moves keep the rows' buffers, which by_key_ points into; copies would not.
    ChunkWindow(ChunkWindow &&) = default;
    ChunkWindow &operator=(ChunkWindow &&) = default;
    ChunkWindow(const ChunkWindow &) = delete;
    ChunkWindow &operator=(const ChunkWindow &) = delete;

    void Open() { open_ = true; }
    bool IsOpen() const { return open_; }
    // A change record from the stream: while open, a c/u/d of this table removes the chunk row
    // with the same key, a t of this table removes every row.
    void OnChange(const FramedRecord &rec);
    // The high watermark: the remaining rows as `r` records at (lsn, first_seq...), time ts.
    std::vector<std::string> Close(uint64_t lsn, uint32_t first_seq, int64_t ts);
    size_t Remaining() const { return remaining_; }
    size_t Dropped() const { return rows_.size() - remaining_; }

  private:
    std::string schema_;
    std::string table_;
    std::vector<Row> rows_;
    std::vector<bool> alive_;
    std::unordered_map<std::string_view, size_t> by_key_;  // views into rows_[i].key
    size_t remaining_ = 0;
    bool open_ = false;
};

// A record the shipper forwards at a high watermark.
struct ResnapshotRecord {
    std::string text;
    StreamPosition pos;
    uint64_t route_hash = 0;
};

// What a watermark message means for the shipper.
struct WatermarkOutcome {
    std::vector<ResnapshotRecord> records;        // forward these, in order
    std::optional<StreamPosition> replayed_last;  // a replayed high watermark: wait for this
};

// Drives the requests: loads them, issues chunks, merges them, writes durable progress.
class Resnapshotter {
  public:
    using Clock = std::chrono::steady_clock;
    Resnapshotter(std::string conninfo, int64_t chunk_rows, bool numeric_as_string);

    // The request table changed (a snowcdc.snapshot_request message, or a (re)connect).
    void RequestsChanged() { reload_ = true; }
    // A snowcdc.snapshot_request message (`text` is the whole record): its commit may not be
    // visible yet to a new snapshot, so the reload waits until the request's row shows it.
    void OnRequestMessage(std::string_view text);
    // Writes progress that became durable (confirmed = the tracker's confirmed LSN), reloads
    // requests when asked, and issues the next chunk when none is in the stream. Call it only
    // when the shipper is streaming and not backpressured.
    void Service(uint64_t confirmed, Clock::time_point now);
    // A change record from the stream (cheap unless a chunk window is open).
    void OnChange(const FramedRecord &rec) {
        if (active_ && active_->window.IsOpen())
            active_->window.OnChange(rec);
    }
    // A snowcdc.watermark message (`text` is the whole record).
    WatermarkOutcome OnWatermark(const FramedRecord &rec, std::string_view text);
    // A transaction's commit: completes a high watermark's position, and is remembered for
    // the visibility check at the next low watermark.
    void OnCommit(uint64_t xid, uint64_t end_lsn);
    // The stream dropped: the chunk in the stream is read again after the reconnect.
    void OnDisconnect();
    bool Active() const { return current_.has_value(); }

  private:
    struct Request {
        int64_t id = 0;
        std::string table;  // regclass text
        std::string after;  // key (text[] literal) after which the next chunk starts
        bool from_start = true;
        int64_t next_chunk = 1;
        bool all_read = false;  // the last chunk has been emitted
        int64_t rows = 0;       // `r` records emitted by this process (for the log)
        int64_t dropped = 0;    // chunk rows dropped for changes between the watermarks
        int64_t rereads = 0;    // chunks read again (a commit before L was not yet visible)
    };
    struct ActiveChunk {
        int64_t chunk = 0;
        ChunkWindow window;
        std::string last_key;             // key text[] literal of the chunk's last row
        bool last = false;                // fewer rows than asked: the table's end
        std::vector<uint32_t> invisible;  // the select snapshot's xip list (32-bit xids)
        std::string token;                // of this read of the chunk
    };
    struct PendingProgress {
        int64_t chunk = 0;
        std::string last_key;
        int64_t rows = 0;
        bool done = false;
        uint64_t hw_end_lsn = 0;  // 0 until the high watermark's commit is seen
        std::optional<StreamPosition> last_pos;
        std::string token;
    };

    bool EnsureConnected();
    bool AnnouncedVisible();
    bool ReadChunk(const std::string &select, PgResult *rows, std::vector<uint32_t> *invisible);
    void LoadRequests();
    void IssueChunk();
    void WriteProgress(uint64_t confirmed);
    void Abandon(const std::string &why);
    void Fail(const std::string &detail);
    void ConnectionLost(const PgError &error);
    void UpdateMetrics();

    std::string conninfo_;
    int64_t chunk_rows_;
    bool numeric_as_string_;
    std::string token_;   // this process's watermark token
    uint64_t reads_ = 0;  // chunk reads so far: the token's counter
    PgConn conn_;
    bool reload_ = true;
    Clock::time_point retry_at_{};
    std::optional<Request> current_;
    std::optional<ActiveChunk> active_;
    std::deque<PendingProgress> pending_;
    bool awaiting_commit_ = false;  // the last high watermark's commit is still to come
    // The request row a snowcdc.snapshot_request message announced: (id, status).
    std::optional<std::pair<int64_t, std::string>> announced_;
    // Xids of the last commits read from the stream, oldest first.
    std::deque<uint32_t> recent_commits_;
    std::unordered_map<uint32_t, int> recent_count_;
};

}  // namespace snowcdc
