// The Snowpipe sink's snapshot store: one channel per snapshot range (see the header).
#include "snowpipe/snowpipe_snapshot.hpp"

#include <cstdlib>
#include <thread>
#include <vector>

#include "log.hpp"
#include "snowpipe/protocol.hpp"

namespace snowcdc::snowpipe {
namespace {

// The seq of an `r` record: the envelope comes first ({"op":"r","lsn":N,"seq":M,...}), so the
// first "seq": is the record's own, never a column of the row.
std::optional<uint64_t> RecordSeq(std::string_view record) {
    constexpr std::string_view kKey = "\"seq\":";
    size_t at = record.find(kKey);
    if (at == std::string_view::npos)
        return std::nullopt;
    size_t i = at + kKey.size();
    uint64_t value = 0;
    size_t digits = 0;
    for (; i < record.size() && record[i] >= '0' && record[i] <= '9'; ++i, ++digits)
        value = value * 10 + static_cast<uint64_t>(record[i] - '0');
    if (digits == 0 || digits > 19)
        return std::nullopt;
    return value;
}

class SnowpipeSnapshotWriter : public SnapshotWriter {
  public:
    SnowpipeSnapshotWriter(std::unique_ptr<SinkShared> shared,
                           std::unique_ptr<SnowpipeChannel> channel, std::optional<uint64_t> last,
                           size_t batch_bytes)
        : shared_(std::move(shared)),
          channel_(std::move(channel)),
          last_(last),
          batch_bytes_(batch_bytes) {}
    ~SnowpipeSnapshotWriter() override { channel_->Stop(); }
    SnowpipeSnapshotWriter(const SnowpipeSnapshotWriter &) = delete;
    SnowpipeSnapshotWriter &operator=(const SnowpipeSnapshotWriter &) = delete;

    void Append(std::string_view record) override {
        std::optional<uint64_t> seq = RecordSeq(record);
        if (!seq)
            throw SnapshotStoreError("snapshot record without a seq for channel " +
                                     channel_->Name() + ": " + std::string(record.substr(0, 200)));
        if (last_ && *seq <= *last_)
            throw SnapshotStoreError("snapshot records of channel " + channel_->Name() +
                                     " out of order (seq " + std::to_string(*seq) + " after " +
                                     std::to_string(*last_) + "); this is a bug, please report it");
        last_ = seq;
        batch_bytes_now_ += record.size() + 1;
        batch_.push_back(PendingRecord{StreamPosition{*seq, 0}, std::string(record)});
        if (batch_bytes_now_ >= batch_bytes_)
            Flush();
    }

    // Waits until the channel's committed token covers every record handed to it.
    void Commit() override {
        Flush();
        WaitCommitted(last_);
        checkpoint_ = last_;
    }

    // Appends go on while the records since the previous checkpoint commit (a Snowflake commit
    // takes seconds: waiting for each would stall the read); only the previous checkpoint's
    // records must be committed by now.
    void Checkpoint() override {
        Flush();
        WaitCommitted(checkpoint_);
        checkpoint_ = last_;
    }

  private:
    // Waits until no record at or below `seq` is pending. The channel retries and re-opens by
    // itself; only a fatal failure ends the wait early.
    void WaitCommitted(std::optional<uint64_t> seq) {
        while (seq) {
            uint64_t version = 0;
            {
                std::lock_guard<std::mutex> lock(shared_->mutex);
                if (shared_->fatal)
                    throw SnapshotStoreError(shared_->fatal->message);
                version = shared_->version;
            }
            // Not under shared_->mutex: the channel takes its own lock before that one.
            std::optional<StreamPosition> first = channel_->FirstPending();
            if (!first || first->lsn > *seq)
                return;
            std::unique_lock<std::mutex> lock(shared_->mutex);
            shared_->changed.wait(lock, [&] { return shared_->version != version; });
        }
    }

    void Flush() {
        if (batch_.empty())
            return;
        channel_->Enqueue(std::move(batch_));
        batch_.clear();
        batch_bytes_now_ = 0;
    }

    std::unique_ptr<SinkShared> shared_;
    std::unique_ptr<SnowpipeChannel> channel_;
    std::optional<uint64_t> last_;
    std::optional<uint64_t> checkpoint_;  // last_ at the previous Checkpoint()
    size_t batch_bytes_;
    size_t batch_bytes_now_ = 0;
    std::vector<PendingRecord> batch_;
};

class SnowpipeSnapshotStore : public SnapshotStore {
  public:
    SnowpipeSnapshotStore(SnowpipeSnapshotOptions options, TokenSource &tokens,
                          DeadLetterWriter &dead_letters)
        : options_(std::move(options)), tokens_(tokens), dead_letters_(dead_letters) {}

    std::optional<SnapshotPlan> LoadPlan() override {
        return LoadPlanFile(PlanPath(), "remove it (the " + options_.channel_prefix +
                                            "_snap_* channels then hold rows that are sent again)");
    }

    void SavePlan(const SnapshotPlan &plan) override { SavePlanFile(PlanPath(), plan); }

    std::unique_ptr<SnapshotWriter> OpenStream(const std::string &stream,
                                               std::optional<uint64_t> *committed) override {
        auto shared = std::make_unique<SinkShared>();
        shared->dead_letter_writer = &dead_letters_;
        auto channel =
            std::make_unique<SnowpipeChannel>(SnapshotChannelName(options_.channel_prefix, stream),
                                              tokens_, options_.pipe, options_.channel, *shared);
        if (std::optional<std::string> error = channel->OpenNow(options_.open_attempts))
            throw SnapshotStoreError("snowpipe snapshot: " + *error +
                                     "; the snapshot resumes from what is committed on restart");
        committed->reset();
        if (std::optional<StreamPosition> pos = channel->Committed()) {
            if (pos->seq != 0)
                throw SnapshotStoreError("snowpipe channel " + channel->Name() +
                                         " holds offset token " + FormatOffsetToken(*pos) +
                                         ", not one of a snapshot stream; another writer uses "
                                         "this channel: set snowpipe_channel_prefix to a prefix "
                                         "of its own");
            *committed = pos->lsn;
        }
        LogDebug("snowpipe snapshot channel opened",
                 {{"channel", channel->Name()},
                  {"committed", *committed ? std::to_string(**committed) : "none"}});
        channel->Start();
        return std::make_unique<SnowpipeSnapshotWriter>(
            std::move(shared), std::move(channel), *committed, options_.channel.request_max_bytes);
    }

    // Finished ranges' channels (and those of ranges replaced after a rewrite) are dropped so
    // that nothing keeps them (or polls them); a channel that is already gone is what a second
    // call after a crash finds.
    void Finish(const SnapshotPlan &plan) override {
        SnowpipeClient client(tokens_, options_.pipe);
        std::vector<std::string> streams = plan.retired_streams;
        for (const SnapshotRange &range : plan.ranges)
            streams.push_back(range.StreamName());
        for (const std::string &stream : streams) {
            std::string name = SnapshotChannelName(options_.channel_prefix, stream);
            std::string request_id = NewRequestId();
            Backoff backoff(options_.channel.backoff);
            for (int attempt = 1;; ++attempt) {
                CallResult result = client.DropChannel(name, request_id);
                if (result.Ok() || result.http_status == 404)
                    break;
                if (result.outcome == Outcome::kFatal || attempt >= options_.open_attempts) {
                    // Harmless to leave behind (Snowflake deletes idle channels after 30 days)
                    // but worth telling.
                    LogWarning("cannot drop a finished snapshot channel; drop it by hand",
                               {{"channel", name}, {"error", result.Describe()}});
                    break;
                }
                std::this_thread::sleep_for(backoff.NextDelay());
            }
        }
    }

  private:
    std::string PlanPath() const {
        return options_.state_dir + "/" + options_.channel_prefix + ".snapshot-plan.json";
    }

    SnowpipeSnapshotOptions options_;
    TokenSource &tokens_;
    DeadLetterWriter &dead_letters_;
};

}  // namespace

std::string SnapshotChannelName(const std::string &prefix, const std::string &stream) {
    return prefix + "_" + stream;
}

std::unique_ptr<SnapshotStore> MakeSnowpipeSnapshotStore(SnowpipeSnapshotOptions options,
                                                         TokenSource &tokens,
                                                         DeadLetterWriter &dead_letters) {
    return std::make_unique<SnowpipeSnapshotStore>(std::move(options), tokens, dead_letters);
}

}  // namespace snowcdc::snowpipe
