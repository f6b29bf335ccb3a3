// The Snowpipe Streaming sink: partitions records over N channels by route hash (every
// version of a row in one channel), runs one worker thread per channel, and reports as
// durable only the stream position below which every channel has committed everything.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

#include "settings.hpp"
#include "sink.hpp"
#include "snowpipe/snowpipe_channel.hpp"
#include "snowpipe/snowpipe_snapshot.hpp"
#include "snowpipe/token_source.hpp"

namespace snowcdc::snowpipe {

struct SnowpipeSinkOptions {
    AuthConfig auth;
    PipeAddress pipe;
    int channel_count = 4;
    std::string channel_prefix = "snowcdc";
    ChannelOptions channel;
    std::string dead_letter_dir;
    std::string state_dir;  // the snapshot plan's directory; "" = no snapshot store
    int open_attempts = 8;  // start-up retries of transient failures before giving up
};

struct SnowpipeSinkStats {
    uint64_t appends = 0;
    uint64_t appended_records = 0;
    uint64_t retries = 0;
    uint64_t reopens = 0;
    uint64_t rejected_rows = 0;
    uint64_t dead_letters = 0;
    uint64_t token_exchanges = 0;
};

// Open() throws SinkStartError (a std::runtime_error) with a message naming the object and
// the fix; after Open() fatal errors come back from Poll() as SinkError values.
class SinkStartError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class SnowpipeSink : public Sink {
  public:
    SnowpipeSink(SnowpipeSinkOptions options, EvpPkeyPtr key);
    ~SnowpipeSink() override;

    std::optional<StreamPosition> Open() override;
    void Submit(Batch batch) override;
    size_t InFlightBytes() const override;
    std::optional<StreamPosition> DurablePosition() const override;
    std::optional<SinkError> Poll(std::chrono::steady_clock::time_point deadline) override;
    void Close() override;
    // The snapshot store (snowpipe_snapshot.hpp) when state_dir is set, else nullptr.
    SnapshotStore *Snapshots() override { return snapshots_.get(); }

    SnowpipeSinkStats Stats() const;
    std::string ChannelName(int index) const;
    const std::string &DeadLetterPath() const { return dead_letters_.Path(); }

  private:
    void CheckChannelLayout(SnowpipeClient &client);
    void DeadLetterOversized(const Batch &batch, size_t index, int channel);
    void PublishMetrics() const;

    SnowpipeSinkOptions options_;
    TokenSource tokens_;
    DeadLetterWriter dead_letters_;
    SinkShared shared_;
    std::vector<std::unique_ptr<SnowpipeChannel>> channels_;
    std::unique_ptr<SnapshotStore> snapshots_;
    bool open_ = false;

    mutable std::mutex mutex_;
    mutable std::deque<StreamPosition> submitted_;  // not yet known durable, stream order
    mutable std::optional<StreamPosition> durable_;
    std::optional<StreamPosition> stuck_;  // a record that could not be kept: never pass it
    uint64_t seen_version_ = 0;
    mutable std::mutex published_mutex_;
    mutable SnowpipeSinkStats published_;  // what PublishMetrics() already counted
};

// The settings rows of this module (see settings.hpp) and the sink built from them.
// Both throw ConfigError naming the setting to fix.
std::vector<SettingSpec> SettingSpecs();
SnowpipeSinkOptions SinkOptionsFromSettings(const Settings &settings);
std::unique_ptr<Sink> MakeSnowpipeSink(const Settings &settings);

// For `snowcdc-shipper check`: key, account, ingest host, scoped token and pipe, without
// opening any channel.
struct ConnectionCheck {
    bool ok = false;
    std::string detail;
    std::string fix;
};
ConnectionCheck CheckConnection(const Settings &settings);

}  // namespace snowcdc::snowpipe
