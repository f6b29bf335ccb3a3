// One Snowpipe Streaming channel: a worker thread that owns the channel's append stream.
// Appends are serial (one in flight, each with the previous answer's continuation token);
// the commit is learnt from the channel status, and only then are records released. After
// any invalidation or unknown outcome the channel is re-opened and every record above the
// committed offset token is sent again, so a record is committed exactly once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
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

namespace snowcdc::snowpipe {

enum class OnReject { kSkip, kStop };

struct ChannelOptions {
    size_t request_max_bytes = 4u << 20;  // uncompressed NDJSON per append
    Compression compression = Compression::kZstd;
    std::chrono::milliseconds status_interval{250};
    BackoffPolicy backoff;
    OnReject on_reject = OnReject::kSkip;
};

// State the channels share with the sink: progress notifications, the first fatal error,
// and counters for metrics.
struct SinkShared {
    std::mutex mutex;
    std::condition_variable changed;
    uint64_t version = 0;  // bumped on every commit, re-open or failure
    std::optional<SinkError> fatal;
    std::atomic<size_t> in_flight_bytes{0};
    std::atomic<uint64_t> appends{0};
    std::atomic<uint64_t> appended_records{0};
    std::atomic<uint64_t> retries{0};
    std::atomic<uint64_t> reopens{0};
    std::atomic<uint64_t> rejected_rows{0};
    std::atomic<uint64_t> dead_letters{0};
    DeadLetterWriter *dead_letter_writer = nullptr;

    void Notify();
    void Fail(std::string message);
};

struct PendingRecord {
    StreamPosition pos;
    std::string text;
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
    // The oldest record not yet known to be committed.
    std::optional<StreamPosition> FirstPending() const;

  private:
    enum class Step { kContinue, kStop };

    void Run();
    void RequestReopen();
    Step Open();
    Step AppendNext();
    Step PollStatus();
    Step HandleRowErrors(const ChannelStatus &status);
    void ApplyCommitted(StreamPosition pos);
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
    std::deque<PendingRecord> records_;  // not yet committed, in stream order
    size_t sent_ = 0;                    // records_[0, sent_) were appended and await commit
    std::optional<StreamPosition> committed_;

    // Worker-thread state.
    std::thread thread_;
    bool need_open_ = false;
    std::string open_request_id_;
    std::string continuation_;
    std::string session_;
    Backoff backoff_;
    std::chrono::steady_clock::time_point next_status_{};
    std::chrono::steady_clock::time_point last_commit_progress_{};  // for the stall warning
    AppendRequest request_;  // the append in progress; kept across retries (same request id)
    size_t request_records_ = 0;
    int unauthorized_streak_ = 0;
    int64_t seen_errors_ = -1;  // rows_error_count already dead-lettered
    std::optional<StreamPosition> error_bound_;
    std::vector<PendingRecord> recently_committed_;  // candidates for late error reports
};

}  // namespace snowcdc::snowpipe
