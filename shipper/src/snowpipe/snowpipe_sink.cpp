// The Snowpipe Streaming sink: channel layout, partitioning, durability, start-up recovery.
//
// Threads: one worker per channel rather than curl multi inside Poll(). A channel's appends
// are strictly serial (each needs the previous answer's continuation token), and the work
// per channel is a small loop of blocking steps (append, poll status, back off, re-open);
// as straight-line code on its own thread it stays readable, while channels still run in
// parallel. Poll() then only waits for progress and reports failures. Channel counts are
// small (default 4, at most a few dozen), so threads cost little.
#include "snowpipe/snowpipe_sink.hpp"

#include <algorithm>

#include "log.hpp"
#include "metrics.hpp"

namespace snowcdc::snowpipe {

SnowpipeSink::SnowpipeSink(SnowpipeSinkOptions options, EvpPkeyPtr key)
    : options_(std::move(options)),
      tokens_(options_.auth, std::move(key)),
      dead_letters_(options_.dead_letter_dir) {
    if (options_.channel_count < 1) {
        throw SinkStartError("snowpipe channel count must be at least 1");
    }
    shared_.dead_letter_writer = &dead_letters_;
    for (int i = 0; i < options_.channel_count; ++i) {
        channels_.push_back(std::make_unique<SnowpipeChannel>(
            ChannelName(i), tokens_, options_.pipe, options_.channel, shared_));
    }
    if (!options_.state_dir.empty()) {
        snapshots_ = MakeSnowpipeSnapshotStore(
            SnowpipeSnapshotOptions{options_.pipe, options_.channel, options_.channel_prefix,
                                    options_.state_dir, options_.open_attempts},
            tokens_, dead_letters_);
    }
}

SnowpipeSink::~SnowpipeSink() {
    Close();
}

std::string SnowpipeSink::ChannelName(int index) const {
    return options_.channel_prefix + "_" + std::to_string(index);
}

// Changing the channel count between runs would re-route rows: with N channels a row goes
// to route_hash % N, and each channel skips what is at or below its own committed token.
// If N changes while some channel still has uncommitted rows, a row that was pending in
// channel a may now land in channel b, whose committed token can be above it: the row
// would be skipped and lost (or, with a fresh prefix, rows other channels already committed
// would be sent twice). No offset token records N, so the old partitioning of pending rows
// cannot be rebuilt safely. The rule: the channels named <prefix>_0..<prefix>_{N-1} must be
// the only ones (or none exist yet). Channels are all opened at start, so a lower N shows
// as <prefix>_N existing, a higher N as <prefix>_{N-1} missing while <prefix>_0 exists.
// To change N: stop the shipper with SIGTERM (it drains: everything sent is committed and
// confirmed to Postgres), then start with the new count and a new channel prefix; the new
// channels hold no tokens and the slot resumes exactly after what was confirmed.
void SnowpipeSink::CheckChannelLayout(SnowpipeClient &client) {
    std::vector<std::string> names;
    for (int i = 0; i <= options_.channel_count; ++i) {
        names.push_back(ChannelName(i));
    }
    std::map<std::string, ChannelStatus> statuses;
    CallResult result;
    for (int attempt = 1; attempt <= options_.open_attempts; ++attempt) {
        result = client.BulkStatus(names, NewRequestId(), &statuses);
        if (result.Ok() || result.outcome == Outcome::kFatal) {
            break;
        }
        std::this_thread::sleep_for(Backoff(options_.channel.backoff).CurrentCeiling());
    }
    if (!result.Ok()) {
        throw SinkStartError("snowpipe: cannot read the channels of pipe " +
                             options_.pipe.Qualified() + ": " + result.Describe());
    }
    int n = options_.channel_count;
    bool fewer = statuses.count(ChannelName(n)) > 0;
    bool more = statuses.count(ChannelName(0)) > 0 && statuses.count(ChannelName(n - 1)) == 0;
    if (fewer || more) {
        throw SinkStartError(
            "snowpipe: pipe " + options_.pipe.Qualified() + " has channels " +
            options_.channel_prefix + "_* from a run with a different channel count than " +
            std::to_string(n) +
            "; changing it while rows are pending would re-route them and lose or duplicate "
            "rows. Set SNOWCDC_SNOWPIPE_CHANNELS back to the previous count, or stop the "
            "previous run with SIGTERM (it drains) and start with a new "
            "SNOWCDC_SNOWPIPE_CHANNEL_PREFIX");
    }
}

std::optional<StreamPosition> SnowpipeSink::Open() {
    SnowpipeClient client(tokens_, options_.pipe);
    CheckChannelLayout(client);
    // The position returned is one every channel has committed everything up to. A channel
    // without a token has committed nothing, so then there is none: each channel still
    // skips its own committed records in Enqueue(), which is what makes a replay exact.
    std::optional<StreamPosition> held;
    bool all_have_tokens = true;
    for (auto &channel : channels_) {
        if (std::optional<std::string> error = channel->OpenNow(options_.open_attempts)) {
            throw SinkStartError("snowpipe: " + *error);
        }
        std::optional<StreamPosition> committed = channel->Committed();
        LogInfo("snowpipe channel opened",
                {{"channel", channel->Name()},
                 {"committed", committed ? FormatOffsetToken(*committed) : "none"}});
        if (!committed) {
            all_have_tokens = false;
        } else if (!held || *committed < *held) {
            held = committed;
        }
    }
    for (auto &channel : channels_) {
        channel->Start();
    }
    open_ = true;
    std::lock_guard<std::mutex> lock(mutex_);
    durable_ = all_have_tokens ? held : std::nullopt;
    return durable_;
}

void SnowpipeSink::DeadLetterOversized(const Batch &batch, size_t index, int channel) {
    const RecordMeta &meta = batch.records[index];
    std::string reason = "record of " + std::to_string(meta.length) +
                         " bytes exceeds the request size limit of " +
                         std::to_string(options_.channel.request_max_bytes) +
                         " bytes (SNOWCDC_SNOWPIPE_REQUEST_MAX_BYTES)";
    std::optional<std::string> error = dead_letters_.Write(DeadLetter{
        ChannelName(channel), FormatOffsetToken(meta.pos), reason, batch.RecordText(index)});
    LogError("snowpipe record too large for one request",
             {{"channel", ChannelName(channel)},
              {"offset_token", FormatOffsetToken(meta.pos)},
              {"bytes", meta.length},
              {"dead_letter", error ? "not written" : dead_letters_.Path()}});
    if (error) {
        stuck_ = stuck_ ? std::min(*stuck_, meta.pos) : meta.pos;
        shared_.Fail(reason + ", and it cannot be kept: " + *error);
        return;
    }
    ++shared_.dead_letters;
    if (options_.channel.on_reject == OnReject::kStop) {
        stuck_ = stuck_ ? std::min(*stuck_, meta.pos) : meta.pos;
        shared_.Fail(reason + "; written to " + dead_letters_.Path() +
                     "; set SNOWCDC_SNOWPIPE_ON_REJECT=skip to continue past such records");
    }
}

// Each channel's records are copied straight into one segment of text (no string per
// record), sized exactly by a first pass over the batch.
void SnowpipeSink::Submit(Batch batch) {
    size_t n = channels_.size();
    std::vector<ChannelSegment> parts(n);
    std::vector<size_t> counts(n, 0);
    std::vector<size_t> bytes(n, 0);
    for (const RecordMeta &meta : batch.records) {
        size_t channel = meta.route_hash % n;
        ++counts[channel];
        bytes[channel] += meta.length + size_t{1};
    }
    for (size_t c = 0; c < n; ++c) {
        parts[c].records.reserve(counts[c]);
        parts[c].text.reserve(bytes[c]);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < batch.records.size(); ++i) {
        const RecordMeta &meta = batch.records[i];
        int channel = static_cast<int>(meta.route_hash % n);
        submitted_.push_back(meta.pos);
        if (meta.length + 1 > options_.channel.request_max_bytes) {
            DeadLetterOversized(batch, i, channel);
            continue;
        }
        ChannelSegment &part = parts[channel];
        std::string_view text = batch.RecordText(i);
        part.records.push_back(QueuedRecord{meta.pos, 0, static_cast<uint32_t>(part.text.size()),
                                            static_cast<uint32_t>(text.size())});
        part.text.append(text.data(), text.size());
        part.text += '\n';
    }
    for (size_t c = 0; c < n; ++c) {
        if (!parts[c].records.empty()) {
            channels_[c]->Enqueue(std::move(parts[c]));
        }
    }
}

size_t SnowpipeSink::InFlightBytes() const {
    return shared_.in_flight_bytes.load();
}

// Submission order is stream order, so the durable position is the last submitted record
// below the oldest record some channel still waits for.
std::optional<StreamPosition> SnowpipeSink::DurablePosition() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::optional<StreamPosition> oldest = stuck_;
    for (const auto &channel : channels_) {
        std::optional<StreamPosition> first = channel->FirstPending();
        if (first && (!oldest || *first < *oldest)) {
            oldest = first;
        }
    }
    while (!submitted_.empty() && (!oldest || submitted_.front() < *oldest)) {
        durable_ = submitted_.front();
        submitted_.pop_front();
    }
    return durable_;
}

std::optional<SinkError> SnowpipeSink::Poll(std::chrono::steady_clock::time_point deadline) {
    std::optional<SinkError> fatal;
    {
        std::unique_lock<std::mutex> lock(shared_.mutex);
        shared_.changed.wait_until(lock, deadline, [this] {
            return shared_.fatal.has_value() || shared_.version != seen_version_;
        });
        seen_version_ = shared_.version;
        fatal = shared_.fatal;
    }
    PublishMetrics();
    return fatal;
}

void SnowpipeSink::Close() {
    for (auto &channel : channels_) {
        channel->Stop();
    }
    open_ = false;
}

SnowpipeSinkStats SnowpipeSink::Stats() const {
    SnowpipeSinkStats stats;
    stats.appends = shared_.appends;
    stats.appended_records = shared_.appended_records;
    stats.retries = shared_.retries;
    stats.reopens = shared_.reopens;
    stats.rejected_rows = shared_.rejected_rows;
    stats.dead_letters = shared_.dead_letters;
    stats.token_exchanges = tokens_.Exchanges();
    return stats;
}

void SnowpipeSink::PublishMetrics() const {
    SnowpipeSinkStats now = Stats();
    std::lock_guard<std::mutex> lock(published_mutex_);
    SnowpipeSinkStats &published = published_;
    auto publish = [](const char *name, const char *help, uint64_t value, uint64_t &last) {
        if (value > last) {
            Metrics().GetCounter(name, help).Inc(static_cast<double>(value - last));
        }
        last = std::max(last, value);
    };
    publish("snowcdc_snowpipe_appends_total", "Append requests accepted by the ingest host",
            now.appends, published.appends);
    publish("snowcdc_snowpipe_appended_records_total", "Records in accepted append requests",
            now.appended_records, published.appended_records);
    publish("snowcdc_snowpipe_retries_total", "Snowpipe requests retried after a failure",
            now.retries, published.retries);
    publish("snowcdc_snowpipe_reopens_total", "Channel re-opens (invalidation, unknown outcome)",
            now.reopens, published.reopens);
    publish("snowcdc_snowpipe_rejected_rows_total", "Rows Snowflake counted as errors",
            now.rejected_rows, published.rejected_rows);
    publish("snowcdc_snowpipe_dead_letters_total", "Records written to the dead-letter directory",
            now.dead_letters, published.dead_letters);
    publish("snowcdc_snowpipe_token_exchanges_total", "Scoped-token exchanges", now.token_exchanges,
            published.token_exchanges);
}

}  // namespace snowcdc::snowpipe
