// The shipper's main loop: tails the slot through a ReplicationStream, frames each record,
// forwards it (unless the sink already holds it) through the Batcher to the Sink, and tells
// Postgres only what the PositionTracker says is durable. It waits on the socket with a
// deadline from the nearest timer, stops reading when too much is in flight, reconnects with
// backoff, calls the heartbeat when idle, reloads on SIGHUP and drains on SIGTERM/SIGINT.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "backoff.hpp"
#include "batcher.hpp"
#include "metrics.hpp"
#include "pg_connection.hpp"
#include "position_tracker.hpp"
#include "replication_stream.hpp"
#include "resnapshot.hpp"
#include "settings.hpp"
#include "sink.hpp"

namespace snowcdc {

class Shipper {
  public:
    using Clock = std::chrono::steady_clock;
    // `reload` re-reads the settings for SIGHUP; it returns nullopt (after logging why) when
    // the new settings are bad, and the old ones stay.
    Shipper(Settings settings, std::unique_ptr<Sink> sink,
            std::function<std::optional<Settings>()> reload);

    // Throws ConfigError for settings that cannot work (bad slot name, plugin options).
    // Streams until stopped (returns 0) or a fatal error (returns 1).
    int Run();
    bool Healthy() const { return healthy_; }

  private:
    enum class Outcome { kContinue, kStop, kRetry, kFatal };

    bool OpenSink();
    Outcome Connect();
    Outcome Snapshot();
    Outcome Stream();
    Outcome ReadAvailable(Clock::time_point now);
    Outcome HandleMessage(const StreamMessage &msg, Clock::time_point now);
    Outcome HandleRecord(std::string_view text, uint64_t wal_start, Clock::time_point now);
    void Forward(std::string_view text, StreamPosition pos, char op, uint64_t route_hash,
                 Clock::time_point now);
    void HandleOwnMessage(const FramedRecord &rec, std::string_view text, Clock::time_point now);
    Outcome ServiceSink(Clock::time_point now, bool force_batch);
    Clock::time_point ConfirmedFeedbackDue() const;
    Outcome SendStatus(Clock::time_point now, bool reply_requested);
    void MaybeHeartbeat(Clock::time_point now);
    Outcome Wait(Clock::time_point now);
    Outcome WaitToReconnect(Clock::time_point until);
    int Drain(bool connected);
    void ApplyReload();
    void ApplySettings();
    bool Backpressured() const;
    Clock::time_point NextDeadline(Clock::time_point now) const;
    Outcome Failed(const PgError &error);

    Settings settings_;
    std::unique_ptr<Sink> sink_;
    std::function<std::optional<Settings>()> reload_;
    ReplicationStream stream_;
    PgConn heartbeat_conn_;
    Batcher batcher_;
    PositionTracker tracker_;
    Resnapshotter resnapshot_;
    Backoff backoff_;
    bool tracker_started_ = false;
    bool healthy_ = false;
    bool got_message_ = false;
    bool output_pending_ = false;
    bool input_drained_ = false;  // the last read found libpq's buffer empty
    bool fatal_ = false;

    std::string slot_;
    std::vector<std::pair<std::string, std::string>> plugin_options_;
    uint64_t received_ = 0;
    uint64_t server_wal_end_ = 0;
    size_t max_in_flight_ = 0;
    std::chrono::milliseconds status_interval_{1000};
    std::chrono::milliseconds heartbeat_interval_{0};
    Clock::time_point next_status_{};
    Clock::time_point last_status_{};  // when the last status update was sent
    uint64_t sent_confirmed_ = 0;      // the flush position it carried
    Clock::time_point last_data_{};
    Clock::time_point next_heartbeat_{};

    Counter *records_ = nullptr;
    Counter *bytes_ = nullptr;
    Counter *transactions_ = nullptr;
    Counter *batches_ = nullptr;
    Counter *skipped_ = nullptr;
    Counter *reconnects_ = nullptr;
    Counter *heartbeats_ = nullptr;
    Gauge *confirmed_gauge_ = nullptr;
    Gauge *received_gauge_ = nullptr;
    Gauge *lag_gauge_ = nullptr;
    Gauge *in_flight_gauge_ = nullptr;
    Histogram *latency_ = nullptr;
};

}  // namespace snowcdc
