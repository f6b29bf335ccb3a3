// The status poller: one thread per sink that learns the channels' commits with one bulk
// channel-status call for every channel waiting for one. It polls soon after an append was
// accepted (at most every `min_interval`), then every `interval` while appended rows await
// their commit, and never while nothing waits. Each channel handles the status it is handed
// on its own worker thread, so the channel's state machine stays in one place.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backoff.hpp"
#include "snowpipe/snowpipe_client.hpp"

namespace snowcdc::snowpipe {

class SnowpipeChannel;
struct SinkShared;

struct StatusPollerOptions {
    std::chrono::milliseconds min_interval{50};  // shortest gap between polls (after appends)
    std::chrono::milliseconds interval{250};     // gap while rows wait and nothing new came
    BackoffPolicy backoff;                       // after a failed status call
};

// What one poll found for one channel. `generation` is the channel's open generation when
// the poll was sent: a status from before a re-open is stale and ignored.
struct DeliveredStatus {
    uint64_t generation = 0;
    bool reopen = false;                  // the call said the channel must be re-opened
    std::optional<ChannelStatus> status;  // absent: the channel does not exist
};

class StatusPoller {
  public:
    StatusPoller(TokenSource &tokens, PipeAddress pipe, StatusPollerOptions options,
                 SinkShared &shared);
    ~StatusPoller();
    StatusPoller(const StatusPoller &) = delete;
    StatusPoller &operator=(const StatusPoller &) = delete;

    // A channel joins before its worker starts and leaves before it is destroyed; Remove()
    // waits while a status is being handed to that channel.
    void Add(SnowpipeChannel *channel);
    void Remove(SnowpipeChannel *channel);
    // An append was accepted, or records became committed (the next status releases
    // them): poll once `min_interval` has passed since the last poll.
    void PollSoon();
    uint64_t Polls() const;

  private:
    struct Wanted {
        SnowpipeChannel *channel;
        std::string name;
        uint64_t generation;
    };

    void Run();
    // Waits until a poll is due; false when stopping.
    bool WaitUntilDue(std::vector<Wanted> *wanted);
    void CollectWanted(std::vector<Wanted> *wanted) const;
    void Deliver(const std::vector<Wanted> &wanted, const CallResult &result,
                 const std::map<std::string, ChannelStatus> &statuses);
    bool Setback(const CallResult &result);

    StatusPollerOptions options_;
    SinkShared &shared_;
    SnowpipeClient client_;
    Backoff backoff_;
    int unauthorized_streak_ = 0;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool soon_ = false;  // PollSoon() was called since the last poll was sent
    uint64_t polls_ = 0;
    std::chrono::steady_clock::time_point last_poll_{};
    std::vector<SnowpipeChannel *> channels_;
    std::thread thread_;
};

}  // namespace snowcdc::snowpipe
