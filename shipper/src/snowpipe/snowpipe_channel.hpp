// One Snowpipe Streaming channel: a worker thread that owns the channel's append stream.
// Appends are serial (one in flight, each with the previous answer's continuation token);
// the commit is learnt from the channel status, which the sink's StatusPoller fetches for
// all channels at once and hands to each worker, and only then are records released. After
// any invalidation or unknown outcome the channel is re-opened and every record above the
// committed offset token is sent again, so a record is committed exactly once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backoff.hpp"
#include "sink.hpp"
#include "snowpipe/compression.hpp"
#include "snowpipe/dead_letter.hpp"
#include "snowpipe/snowpipe_client.hpp"
#include "snowpipe/status_poller.hpp"

namespace snowcdc::snowpipe {

enum class OnReject { kSkip, kStop };

struct ChannelOptions {
    size_t request_max_bytes = 4u << 20;     // uncompressed NDJSON per append, at most
    size_t request_target_bytes = 1u << 20;  // ... and usually (a larger record goes alone)
    Compression compression = Compression::kZstd;
    // Status is polled status_min_interval after an accepted append, then every
    // status_interval while appended rows wait for their commit.
    std::chrono::milliseconds status_interval{250};
    std::chrono::milliseconds status_min_interval{50};
    BackoffPolicy backoff;
    OnReject on_reject = OnReject::kSkip;
};

// State the channels share with the sink: progress notifications, the first fatal error,
// counters for metrics, and the status poller (made by the first channel).
struct SinkShared {
    std::mutex mutex;
    std::condition_variable changed;
    uint64_t version = 0;  // bumped on every commit, re-open or failure
    std::optional<SinkError> fatal;
    // Bytes of the records the channels hold (text, '\n' and bookkeeping) and of append
    // bodies built and not yet answered.
    std::atomic<size_t> in_flight_bytes{0};
    std::atomic<uint64_t> appends{0};
    std::atomic<uint64_t> appended_records{0};
    std::atomic<uint64_t> retries{0};
    std::atomic<uint64_t> reopens{0};
    std::atomic<uint64_t> rejected_rows{0};
    std::atomic<uint64_t> dead_letters{0};
    DeadLetterWriter *dead_letter_writer = nullptr;
    std::unique_ptr<StatusPoller> poller;

    void Notify();
    void Fail(std::string message);
};

struct PendingRecord {
    StreamPosition pos;
    std::string text;
};

// A record held by a channel: its text lives in the segment of the Enqueue() call that
// brought it, back to back with its neighbours and followed by '\n'.
struct QueuedRecord {
    StreamPosition pos;
    uint64_t segment = 0;  // sequence number of the segment holding the text
    uint32_t offset = 0;   // where the text starts in the segment
    uint32_t length = 0;   // without the '\n'
};

// Records for one channel, built by the caller without a string per record: their texts
// back to back in `text`, each followed by '\n', and where each lies (offset and length;
// Enqueue() sets the segment number).
struct ChannelSegment {
    std::string text;
    std::vector<QueuedRecord> records;  // in stream order
};

class SnowpipeChannel {
  public:
    SnowpipeChannel(std::string name, TokenSource &tokens, PipeAddress pipe, ChannelOptions options,
                    SinkShared &shared);
    ~SnowpipeChannel();
    SnowpipeChannel(const SnowpipeChannel &) = delete;
    SnowpipeChannel &operator=(const SnowpipeChannel &) = delete;

    const std::string &Name() const { return name_; }
    // Opens the channel on the caller's thread (start-up), retrying transient failures up
    // to `attempts` times. Returns an error message on failure.
    std::optional<std::string> OpenNow(int attempts);
    std::optional<StreamPosition> Committed() const;
    void Start();
    void Stop();

    // Takes records in stream order; those at or below the committed token are dropped
    // (already in Snowflake: a replay after a restart).
    void Enqueue(std::vector<PendingRecord> records);
    void Enqueue(ChannelSegment segment);
    // The oldest record not yet known to be committed.
    std::optional<StreamPosition> FirstPending() const;

    // For the StatusPoller: whether the channel waits for a status (appended rows not yet
    // committed, or committed ones kept for one more status), with its open generation; and
    // the status a poll found, handled on the worker thread.
    bool WantsStatus(uint64_t *generation) const;
    void DeliverStatus(DeliveredStatus status);

  private:
    enum class Step { kContinue, kStop };

    void Run();
    void RequestReopen();
    Step Open();
    Step AppendNext();
    Step HandleStatus();
    void DropKept();
    static size_t Charge(const QueuedRecord &record);
    void PopFront();
    std::string_view Text(const QueuedRecord &record) const;
    Step HandleRowErrors(const ChannelStatus &status);
    bool ApplyCommitted(StreamPosition pos);
    void WarnIfStalled(const ChannelStatus &status);
    bool BuildRequest();
    bool WaitBackoff(std::chrono::milliseconds delay);
    // Counts a failed call toward the retry policy; false when it must stop (fatal, or
    // refused credentials too many times in a row).
    Step Setback(const CallResult &result, const char *what);
    std::optional<std::string> ApplyOpenAnswer(const OpenAnswer &answer);
    void Fail(const std::string &what);

    std::string name_;
    ChannelOptions options_;
    SinkShared &shared_;
    SnowpipeClient client_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::deque<std::string> segments_;  // NDJSON text of the records, oldest first
    uint64_t first_segment_ = 0;        // sequence number of segments_.front()
    std::deque<QueuedRecord> records_;  // in stream order
    size_t kept_ = 0;      // records_[0, kept_) are committed, kept for one more status
    size_t appended_ = 0;  // records_[0, appended_) were appended (kept_ <= appended_)
    std::optional<StreamPosition> committed_;
    uint64_t generation_ = 0;  // bumped by every (re-)open
    std::optional<DeliveredStatus> delivered_;

    // Worker-thread state.
    std::thread thread_;
    bool need_open_ = false;
    std::string open_request_id_;
    std::string continuation_;
    std::string session_;
    Backoff backoff_;
    Compressor compressor_;
    std::chrono::steady_clock::time_point last_commit_progress_{};  // for the stall warning
    AppendRequest request_;  // the append in progress; kept across retries (same request id)
    size_t request_records_ = 0;
    size_t request_charge_ = 0;  // the request's share of in_flight_bytes
    int unauthorized_streak_ = 0;
    int64_t seen_errors_ = -1;  // rows_error_count already dead-lettered
    std::optional<StreamPosition> error_bound_;
};

}  // namespace snowcdc::snowpipe
