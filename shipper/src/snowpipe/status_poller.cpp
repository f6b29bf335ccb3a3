// The status poller (see status_poller.hpp).
#include "snowpipe/status_poller.hpp"

#include <algorithm>

#include "log.hpp"
#include "snowpipe/snowpipe_channel.hpp"

namespace snowcdc::snowpipe {
namespace {

// Credentials refused this many times in a row (each time after a fresh exchange) is a
// configuration problem, not a race with token expiry.
constexpr int kUnauthorizedLimit = 5;

}  // namespace

StatusPoller::StatusPoller(TokenSource &tokens, PipeAddress pipe, StatusPollerOptions options,
                           SinkShared &shared)
    : options_(options),
      shared_(shared),
      client_(tokens, std::move(pipe)),
      backoff_(options.backoff) {
    options_.min_interval = std::min(options_.min_interval, options_.interval);
    thread_ = std::thread([this] { Run(); });
}

StatusPoller::~StatusPoller() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void StatusPoller::Add(SnowpipeChannel *channel) {
    std::lock_guard<std::mutex> lock(mutex_);
    channels_.push_back(channel);
}

void StatusPoller::Remove(SnowpipeChannel *channel) {
    std::lock_guard<std::mutex> lock(mutex_);
    channels_.erase(std::remove(channels_.begin(), channels_.end(), channel), channels_.end());
}

void StatusPoller::PollSoon() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        soon_ = true;
    }
    wake_.notify_all();
}

uint64_t StatusPoller::Polls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return polls_;
}

// Called with mutex_ held. A channel never calls the poller while it holds its own lock,
// so taking the channels' locks here cannot deadlock.
void StatusPoller::CollectWanted(std::vector<Wanted> *wanted) const {
    wanted->clear();
    for (SnowpipeChannel *channel : channels_) {
        uint64_t generation = 0;
        if (channel->WantsStatus(&generation)) {
            wanted->push_back(Wanted{channel, channel->Name(), generation});
        }
    }
}

bool StatusPoller::WaitUntilDue(std::vector<Wanted> *wanted) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        CollectWanted(wanted);
        if (wanted->empty()) {
            // Nothing waits for a commit: sleep until an append (or a stop) wakes us.
            wake_.wait(lock);
            continue;
        }
        auto due = last_poll_ + (soon_ ? options_.min_interval : options_.interval);
        if (std::chrono::steady_clock::now() >= due) {
            soon_ = false;
            last_poll_ = std::chrono::steady_clock::now();
            ++polls_;
            return true;
        }
        // Woken early by an append (which may make the poll due sooner) or a stop.
        wake_.wait_until(lock, due);
    }
    return false;
}

void StatusPoller::Run() {
    std::vector<Wanted> wanted;
    while (WaitUntilDue(&wanted)) {
        std::vector<std::string> names;
        for (const Wanted &w : wanted) {
            names.push_back(w.name);
        }
        std::map<std::string, ChannelStatus> statuses;
        CallResult result = client_.BulkStatus(names, NewRequestId(), &statuses);
        if (!result.Ok() && result.outcome != Outcome::kReopen) {
            if (!Setback(result)) {
                return;
            }
            continue;
        }
        backoff_.Reset();
        unauthorized_streak_ = 0;
        Deliver(wanted, result, statuses);
    }
}

// Hands each polled channel its status, unless it left meanwhile (mutex_ keeps it alive).
void StatusPoller::Deliver(const std::vector<Wanted> &wanted, const CallResult &result,
                           const std::map<std::string, ChannelStatus> &statuses) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Wanted &w : wanted) {
        if (std::find(channels_.begin(), channels_.end(), w.channel) == channels_.end()) {
            continue;
        }
        DeliveredStatus delivered;
        delivered.generation = w.generation;
        delivered.reopen = result.outcome == Outcome::kReopen;
        auto found = statuses.find(w.name);
        if (found != statuses.end()) {
            delivered.status = found->second;
        }
        w.channel->DeliverStatus(std::move(delivered));
    }
}

// A failed status call is retried after a backoff (the channels keep their rows); false
// when the poller must stop (fatal, or credentials refused too many times in a row).
bool StatusPoller::Setback(const CallResult &result) {
    bool refused = result.outcome == Outcome::kRefreshToken;
    if (result.outcome == Outcome::kFatal ||
        (refused && ++unauthorized_streak_ >= kUnauthorizedLimit)) {
        LogError("snowpipe channel status failed",
                 {{"pipe", client_.Pipe().Qualified()}, {"error", result.Describe()}});
        shared_.Fail("snowpipe channel status of pipe " + client_.Pipe().Qualified() +
                     " failed: " + result.Describe());
        return false;
    }
    ++shared_.retries;
    LogWarning("snowpipe channel status failed, retrying",
               {{"pipe", client_.Pipe().Qualified()}, {"error", result.Describe()}});
    std::unique_lock<std::mutex> lock(mutex_);
    return !wake_.wait_for(lock, backoff_.NextDelay(), [this] { return stopping_; });
}

}  // namespace snowcdc::snowpipe
