// The shipper's main loop (see shipper.hpp).
#include "shipper.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "log.hpp"
#include "record_framing.hpp"
#include "signals.hpp"
#include "snapshot.hpp"

namespace snowcdc {

namespace {

constexpr int kReadBudget = 10000;                                 // messages per loop turn
constexpr auto kSinkPollInterval = std::chrono::milliseconds(10);  // while data is in flight
constexpr auto kIdleWakeup = std::chrono::seconds(1);
constexpr auto kMinStatusInterval = std::chrono::milliseconds(10);
// A confirmed position that moved is told to the server this soon, without waiting for
// status_interval: the slot (and whoever watches its lag) sees durable progress promptly,
// at the cost of a few small messages per second while data flows.
constexpr auto kConfirmedFeedbackInterval = std::chrono::milliseconds(100);

int MillisUntil(Shipper::Clock::time_point deadline, Shipper::Clock::time_point now) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    return static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 60000));
}

int64_t UnixNowUs() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The plugin option numeric-as-string, which `r` records must follow too.
bool NumericAsString(const Settings &settings) {
    for (const auto &[name, value] : ParsePluginOptions(settings.GetString("plugin_options")))
        if (name == "numeric-as-string")
            return ParseBool(value).value_or(false);
    return false;
}

Counter &ErrorCounter(const std::string &kind) {
    return Metrics().GetCounter("snowcdc_errors_total", "Errors by kind", {{"kind", kind}});
}

}  // namespace

Shipper::Shipper(Settings settings, std::unique_ptr<Sink> sink,
                 std::function<std::optional<Settings>()> reload)
    : settings_(std::move(settings)),
      sink_(std::move(sink)),
      reload_(std::move(reload)),
      batcher_(settings_.GetBytes("batch_max_bytes"), settings_.GetDuration("batch_max_delay")),
      resnapshot_(settings_.GetString("conninfo"), settings_.GetInt("resnapshot_chunk_rows"),
                  NumericAsString(settings_)),
      backoff_(BackoffPolicy{}) {
    slot_ = settings_.GetString("slot");
    if (!ValidSlotName(slot_))
        throw ConfigError("setting slot: '" + slot_ +
                          "' is not a valid slot name; use lower-case letters, digits and _");
    // The shipper needs begin/commit records and the heartbeat's messages.
    plugin_options_ = {{"transactions", "on"}, {"messages", "on"}};
    for (auto &option : ParsePluginOptions(settings_.GetString("plugin_options"))) {
        if (option.first == "transactions" || option.first == "messages")
            throw ConfigError("setting plugin_options: " + option.first +
                              " is set by the shipper (it needs transaction boundaries and its "
                              "own messages); remove it from plugin_options");
        // A message filter must still pass the shipper's own messages (heartbeat, re-snapshot
        // requests and watermarks), or idle slots stop advancing and re-snapshots stall.
        if (option.first == "message-prefixes")
            option.second += ",snowcdc.heartbeat,snowcdc.snapshot_request,snowcdc.watermark";
        plugin_options_.push_back(option);
    }
    MetricsRegistry &m = Metrics();
    records_ = &m.GetCounter("snowcdc_records_total", "Records forwarded to the sink");
    bytes_ = &m.GetCounter("snowcdc_bytes_total", "Bytes of records forwarded to the sink");
    transactions_ = &m.GetCounter("snowcdc_transactions_total", "Transactions received");
    batches_ = &m.GetCounter("snowcdc_batches_total", "Batches handed to the sink");
    skipped_ = &m.GetCounter("snowcdc_replayed_records_skipped_total",
                             "Records not forwarded because the sink already held them");
    reconnects_ = &m.GetCounter("snowcdc_reconnects_total", "Reconnections to Postgres");
    heartbeats_ = &m.GetCounter("snowcdc_heartbeats_total", "snowcdc.heartbeat() calls");
    confirmed_gauge_ = &m.GetGauge("snowcdc_confirmed_lsn", "LSN reported to Postgres as flushed");
    received_gauge_ = &m.GetGauge("snowcdc_received_lsn", "Highest LSN received");
    lag_gauge_ = &m.GetGauge("snowcdc_lag_bytes", "Server WAL end minus the confirmed LSN");
    in_flight_gauge_ =
        &m.GetGauge("snowcdc_in_flight_bytes", "Bytes buffered or submitted and not yet durable");
    latency_ = &m.GetHistogram("snowcdc_commit_to_durable_seconds",
                               "Time from a transaction's commit to the sink making it durable",
                               {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4,
                                0.5, 0.75, 1, 2.5, 5, 10, 30, 60});
    ApplySettings();
}

void Shipper::ApplySettings() {
    batcher_.SetLimits(settings_.GetBytes("batch_max_bytes"),
                       settings_.GetDuration("batch_max_delay"));
    max_in_flight_ = settings_.GetBytes("max_in_flight_bytes");
    // A zero interval would turn the wait into a busy loop.
    status_interval_ = std::max(settings_.GetDuration("status_interval"), kMinStatusInterval);
    heartbeat_interval_ = settings_.GetDuration("heartbeat_interval");
    backoff_ = Backoff(BackoffPolicy{settings_.GetDuration("reconnect_initial_delay"),
                                     settings_.GetDuration("reconnect_max_delay"), 2.0});
    if (auto level = ParseLogLevel(settings_.GetString("log_level")))
        SetLogLevel(*level);
    sink_->Reload(settings_);
}

void Shipper::ApplyReload() {
    std::optional<Settings> next = reload_ ? reload_() : std::nullopt;
    if (!next)
        return;
    std::vector<std::string> restart = settings_.NeedRestart(*next);
    if (!restart.empty()) {
        std::string names;
        for (const auto &n : restart)
            names += (names.empty() ? "" : ", ") + n;
        LogWarning("settings changed that only take effect after a restart; restart to apply",
                   {{"settings", names}});
    }
    settings_ = std::move(*next);
    ApplySettings();
    LogInfo("settings reloaded");
}

bool Shipper::OpenSink() {
    try {
        std::optional<StreamPosition> held = sink_->Open();
        tracker_.SetDurableFloor(held);
        LogInfo("sink opened", {{"sink", settings_.GetString("sink")},
                                {"holds_lsn", held ? FormatLsn(held->lsn) : std::string("none")},
                                {"holds_seq", held ? held->seq : 0}});
        return true;
    } catch (const std::exception &e) {
        LogError(std::string("cannot open the sink: ") + e.what());
        return false;
    }
}

int Shipper::Run() {
    if (!OpenSink())
        return 1;
    while (true) {
        Outcome outcome = Connect();
        if (outcome == Outcome::kRetry)
            outcome = WaitToReconnect(backoff_.NextAttemptAt());
        if (outcome == Outcome::kStop)
            return Drain(stream_.Connected());
        if (outcome == Outcome::kFatal) {
            sink_->Close();
            return 1;
        }
    }
}

Shipper::Outcome Shipper::Failed(const PgError &error) {
    ErrorCounter(PgFailureName(error.kind)).Inc();
    healthy_ = false;
    stream_.Reset();
    tracker_.OnDisconnect();
    resnapshot_.OnDisconnect();
    if (!IsRetryable(error.kind)) {
        LogError(error.message, {{"kind", PgFailureName(error.kind)}});
        fatal_ = true;
        return Outcome::kFatal;
    }
    LogWarning(error.message, {{"kind", PgFailureName(error.kind)}});
    reconnects_->Inc();
    return Outcome::kRetry;
}

Shipper::Outcome Shipper::Connect() {
    if (StopRequested())
        return Outcome::kStop;
    uint64_t confirmed = 0;
    if (auto error = stream_.Connect(settings_.GetString("conninfo")))
        return Failed(*error);
    if (settings_.GetString("snapshot") == "initial") {
        Outcome outcome = Snapshot();
        if (outcome != Outcome::kContinue)
            return outcome;
    }
    if (auto error = stream_.PrepareSlot(slot_, settings_.GetBool("create_slot"), &confirmed))
        return Failed(*error);
    if (auto error = stream_.Start(slot_, plugin_options_))
        return Failed(*error);
    tracker_.RaiseConfirmed(confirmed);
    received_ = std::max(received_, confirmed);
    got_message_ = false;
    input_drained_ = false;
    healthy_ = true;
    resnapshot_.RequestsChanged();  // resumes running re-snapshots
    LogInfo("streaming started", {{"confirmed_lsn", FormatLsn(confirmed)}});
    Outcome outcome = Stream();
    return outcome == Outcome::kRetry && fatal_ ? Outcome::kFatal : outcome;
}

// The initial snapshot (snapshot.hpp explains why resuming under a new snapshot is sound).
// The plan is saved as "creating" before the slot is created, so a crash between the two is
// seen on restart: the slot then exists with its consistent point as confirmed position.
Shipper::Outcome Shipper::Snapshot() {
    SnapshotStore *store = sink_->Snapshots();
    try {
        bool exists = false;
        uint64_t confirmed = 0;
        if (auto error = stream_.FindSlot(slot_, &exists, &confirmed))
            return Failed(*error);
        std::optional<SnapshotPlan> plan;
        if (store != nullptr)
            plan = store->LoadPlan();
        if (!plan) {
            if (exists) {
                LogInfo(
                    "the slot already exists and no snapshot was planned: no initial "
                    "snapshot",
                    {{"slot", slot_}});
                return Outcome::kContinue;
            }
            if (!settings_.GetBool("create_slot"))
                return Outcome::kContinue;  // PrepareSlot reports the missing slot
            if (store == nullptr) {
                LogError("snapshot = initial needs a sink that can hold a snapshot, and sink " +
                         settings_.GetString("sink") +
                         " cannot: use ndjson-dir, or snowpipe with state_dir set (where the "
                         "snapshot plan is kept), or set snapshot = never to stream only the "
                         "changes from now on");
                fatal_ = true;
                return Outcome::kFatal;
            }
            plan = SnapshotPlan{};
            store->SavePlan(*plan);
        }
        if (plan->state == SnapshotPlan::State::kDone && !exists) {
            // A new slot would stream from now on: what changed since the old one was dropped
            // would be missing from the sink without a word.
            LogError("slot " + slot_ +
                     " does not exist, but the sink holds a finished initial snapshot taken "
                     "with a slot of that name: changes made since that slot was dropped are "
                     "not in the sink. To take a new snapshot, remove the snapshot plan "
                     "(ndjson-dir: snapshot-plan.json and the snap_*.ndjson files of "
                     "output_dir; snowpipe: <channel prefix>.snapshot-plan.json in state_dir); "
                     "to stream from now on without one, set snapshot = never");
            fatal_ = true;
            return Outcome::kFatal;
        }
        if (plan->state == SnapshotPlan::State::kDone)
            return Outcome::kContinue;
        if (!exists && plan->state == SnapshotPlan::State::kReading) {
            LogError("slot " + slot_ +
                     " was dropped while its initial snapshot was being read, so the changes "
                     "since the snapshot are gone; clear the sink directory (or remove "
                     "snapshot-plan.json and the snap_*.ndjson files) and restart to take the "
                     "snapshot again");
            fatal_ = true;
            return Outcome::kFatal;
        }
        SnapshotOptions options;
        options.conninfo = settings_.GetString("conninfo");
        options.tables = settings_.GetString("snapshot_tables");
        options.parallelism = static_cast<int>(settings_.GetInt("snapshot_parallelism"));
        options.range_blocks = settings_.GetInt("snapshot_range_blocks");
        options.commit_bytes = static_cast<size_t>(settings_.GetBytes("snapshot_commit_bytes"));
        options.stop = [] { return StopRequested(); };
        for (const auto &[name, value] : plugin_options_) {
            if (name == "numeric-as-string")
                options.numeric_as_string = ParseBool(value).value_or(false);
            std::string *filter = name == "include-tables"   ? &options.include_tables
                                  : name == "exclude-tables" ? &options.exclude_tables
                                                             : nullptr;
            if (filter)
                *filter += (filter->empty() ? "" : ",") + value;
        }
        std::string exported;
        if (!exists) {
            if (auto error = stream_.CreateSlot(slot_, true, &plan->consistent_point, &exported))
                return Failed(*error);
        } else if (plan->state == SnapshotPlan::State::kCreating) {
            plan->consistent_point = confirmed;
        }
        if (plan->state == SnapshotPlan::State::kCreating) {
            PgConn conn;
            PgResult res;
            if (auto error = PgConn::Connect(options.conninfo, false, &conn))
                return Failed(*error);
            std::vector<std::string> begin = {"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"};
            if (!exported.empty())
                begin.push_back("SET TRANSACTION SNAPSHOT " + conn.Literal(exported));
            for (const auto &sql : begin)
                if (auto error = conn.Exec(sql, PGRES_COMMAND_OK, &res))
                    return Failed(*error);
            if (auto error = PlanSnapshot(conn, options, &*plan))
                return Failed(*error);
            conn.Exec("COMMIT", PGRES_COMMAND_OK, &res);
            plan->state = SnapshotPlan::State::kReading;
            store->SavePlan(*plan);
        }
        LogInfo(exported.empty() ? "initial snapshot resumes under a new snapshot"
                                 : "initial snapshot started",
                {{"consistent_point", FormatLsn(plan->consistent_point)},
                 {"ranges", plan->ranges.size()}});
        if (auto error = ReadSnapshot(&*plan, store, options, exported)) {
            if (StopRequested()) {
                LogInfo("initial snapshot interrupted; it resumes on the next start");
                stream_.Reset();
                return Outcome::kStop;
            }
            return Failed(*error);
        }
        store->Finish(*plan);
        plan->state = SnapshotPlan::State::kDone;
        store->SavePlan(*plan);
        LogInfo("initial snapshot done", {{"consistent_point", FormatLsn(plan->consistent_point)}});
        return Outcome::kContinue;
    } catch (const SnapshotStoreError &e) {
        LogError(e.what());
        fatal_ = true;
        return Outcome::kFatal;
    }
}

Shipper::Outcome Shipper::Stream() {
    Clock::time_point now = Clock::now();
    last_data_ = now;
    next_status_ = now;
    next_heartbeat_ = now + heartbeat_interval_;
    while (true) {
        if (StopRequested())
            return Outcome::kStop;
        if (TakeReloadRequest())
            ApplyReload();
        now = Clock::now();
        Outcome o = Backpressured() ? Outcome::kContinue : ReadAvailable(now);
        if (o == Outcome::kContinue)
            o = ServiceSink(now, Backpressured());
        if (o == Outcome::kContinue)
            o = SendStatus(now, false);
        if (o != Outcome::kContinue)
            return o;
        if (!Backpressured())
            resnapshot_.Service(tracker_.Confirmed(), now);
        MaybeHeartbeat(now);
        o = Wait(now);
        if (o != Outcome::kContinue)
            return o;
    }
}

bool Shipper::Backpressured() const {
    // Nothing in flight is never "full", so even a tiny bound lets one record through.
    size_t in_flight = sink_->InFlightBytes() + batcher_.Bytes();
    return in_flight > 0 && in_flight >= max_in_flight_;
}

Shipper::Outcome Shipper::ReadAvailable(Clock::time_point now) {
    StreamMessage msg;
    PgError error;
    input_drained_ = false;
    for (int i = 0; i < kReadBudget && !Backpressured(); ++i) {
        ReadStatus status = stream_.Read(&msg, &error);
        if (status == ReadStatus::kWouldBlock) {
            input_drained_ = true;
            break;
        }
        if (status == ReadStatus::kError)
            return Failed(error);
        if (Outcome o = HandleMessage(msg, now); o != Outcome::kContinue)
            return o;
        if (batcher_.Ready(now))
            ServiceSink(now, true);
    }
    return Outcome::kContinue;
}

Shipper::Outcome Shipper::HandleMessage(const StreamMessage &msg, Clock::time_point now) {
    if (!got_message_) {
        got_message_ = true;
        backoff_.Reset();
    }
    server_wal_end_ = std::max(server_wal_end_, msg.wal_end);
    if (msg.type == StreamMessage::Type::kKeepalive) {
        // Everything before the server's send position has been received, so when nothing
        // is open that position may be confirmed once all before it is durable.
        if (!tracker_.InTransaction())
            tracker_.OnStandalone(msg.wal_end);
        return msg.reply_requested ? SendStatus(now, true) : Outcome::kContinue;
    }
    received_ = std::max(received_, msg.wal_start);
    return HandleRecord(msg.payload, msg.wal_start, now);
}

Shipper::Outcome Shipper::HandleRecord(std::string_view text, uint64_t wal_start,
                                       Clock::time_point now) {
    std::string error;
    std::optional<FramedRecord> rec = FrameRecord(text, &error);
    if (!rec) {
        ErrorCounter("bad_record").Inc();
        LogError("received a record that is not snowcdc v1 (" + error +
                     "); check that the slot uses the snowcdc plugin of a matching version",
                 {{"wal_lsn", FormatLsn(wal_start)}, {"record", std::string(text.substr(0, 200))}});
        fatal_ = true;
        return Outcome::kFatal;
    }
    last_data_ = now;
    switch (rec->kind) {
        case RecordKind::kBegin:
            tracker_.OnBegin();
            break;
        case RecordKind::kCommit:
            transactions_->Inc();
            resnapshot_.OnCommit(rec->xid, rec->end_lsn);
            tracker_.OnCommit(rec->end_lsn, rec->ts);
            break;
        case RecordKind::kMessage:
            if (rec->prefix.substr(0, 8) != "snowcdc.")
                Forward(text, {rec->lsn, rec->seq}, rec->op, rec->RouteHash(), now);
            else
                HandleOwnMessage(*rec, text, now);
            if (!rec->transactional)
                tracker_.OnStandalone(rec->lsn);
            break;
        case RecordKind::kChange:
            // The extension's own tables (re-snapshot requests) are bookkeeping, not data.
            if (rec->schema == "snowcdc")
                break;
            resnapshot_.OnChange(*rec);
            Forward(text, {rec->lsn, rec->seq}, rec->op, rec->RouteHash(), now);
            break;
    }
    return Outcome::kContinue;
}

// snowcdc.* messages are never forwarded. A re-snapshot's high watermark brings the chunk's
// `r` records, forwarded here at the watermark's place in the stream (resnapshot.hpp).
void Shipper::HandleOwnMessage(const FramedRecord &rec, std::string_view text,
                               Clock::time_point now) {
    if (rec.prefix == "snowcdc.snapshot_request") {
        resnapshot_.OnRequestMessage(text);
        return;
    }
    if (rec.prefix != "snowcdc.watermark")
        return;
    WatermarkOutcome outcome = resnapshot_.OnWatermark(rec, text);
    if (outcome.replayed_last)
        tracker_.OnSkipped(*outcome.replayed_last);
    for (const ResnapshotRecord &r : outcome.records)
        Forward(r.text, r.pos, 'r', r.route_hash, now);
}

void Shipper::Forward(std::string_view text, StreamPosition pos, char op, uint64_t route_hash,
                      Clock::time_point now) {
    if (tracker_.AlreadyForwarded(pos)) {
        tracker_.OnSkipped(pos);
        skipped_->Inc();
        return;
    }
    RecordMeta meta;
    meta.pos = pos;
    meta.op = op;
    meta.route_hash = route_hash;
    batcher_.Add(text, meta, now);
    tracker_.OnForwarded(pos);
    records_->Inc();
    bytes_->Inc(static_cast<double>(text.size()));
}

Shipper::Outcome Shipper::ServiceSink(Clock::time_point now, bool force_batch) {
    if (!batcher_.Empty() && (force_batch || batcher_.Ready(now))) {
        Batch batch = batcher_.Take();
        LogDebug("batch submitted", {{"batch", batch.id}, {"records", batch.records.size()}});
        sink_->Submit(std::move(batch));
        batches_->Inc();
    }
    if (std::optional<SinkError> error = sink_->Poll(now)) {
        ErrorCounter("sink").Inc();
        LogError("sink failed: " + error->message, {{"sink", settings_.GetString("sink")}});
        fatal_ = true;
        healthy_ = false;
        return Outcome::kFatal;
    }
    int64_t unix_now_us = UnixNowUs();
    for (int64_t commit_ts : tracker_.Advance(sink_->DurablePosition()))
        latency_->Observe(static_cast<double>(std::max<int64_t>(unix_now_us - commit_ts, 0)) / 1e6);
    confirmed_gauge_->Set(static_cast<double>(tracker_.Confirmed()));
    received_gauge_->Set(static_cast<double>(received_));
    uint64_t head = std::max(server_wal_end_, received_);
    lag_gauge_->Set(
        static_cast<double>(head > tracker_.Confirmed() ? head - tracker_.Confirmed() : 0));
    in_flight_gauge_->Set(static_cast<double>(sink_->InFlightBytes() + batcher_.Bytes()));
    return Outcome::kContinue;
}

// When a confirmed position that moved may be sent ahead of status_interval.
Shipper::Clock::time_point Shipper::ConfirmedFeedbackDue() const {
    return last_status_ +
           std::min<std::chrono::milliseconds>(status_interval_, kConfirmedFeedbackInterval);
}

Shipper::Outcome Shipper::SendStatus(Clock::time_point now, bool reply_requested) {
    if (!stream_.Connected())
        return Outcome::kContinue;
    uint64_t confirmed = tracker_.Confirmed();
    bool progressed = confirmed > sent_confirmed_ && now >= ConfirmedFeedbackDue();
    if (reply_requested || progressed || now >= next_status_) {
        // 0 would mean "no position"; before the first confirmation only a reply is owed.
        if (confirmed > 0 || reply_requested) {
            if (auto error = stream_.SendStatus(std::max(received_, confirmed), confirmed, false))
                return Failed(*error);
            sent_confirmed_ = confirmed;
            last_status_ = now;
        }
        next_status_ = now + status_interval_;
    }
    PgError error{PgFailure::kStreamLost, ""};
    output_pending_ = stream_.FlushPending(&error);
    if (!error.message.empty())
        return Failed(error);
    return Outcome::kContinue;
}

void Shipper::MaybeHeartbeat(Clock::time_point now) {
    if (heartbeat_interval_.count() == 0 || now - last_data_ < heartbeat_interval_ ||
        now < next_heartbeat_)
        return;
    next_heartbeat_ = now + heartbeat_interval_;
    if (!heartbeat_conn_) {
        if (auto error =
                PgConn::Connect(settings_.GetString("conninfo"), false, &heartbeat_conn_)) {
            LogWarning("heartbeat connection failed: " + error->message);
            return;
        }
        // The heartbeat runs inside the replication loop, so it must never wait long: its commit
        // does not wait for synchronous standbys (decoding does not either), and a statement
        // that hangs is cancelled well before wal_sender_timeout.
        if (auto error =
                heartbeat_conn_.Exec("SET synchronous_commit = local; SET statement_timeout = '5s'",
                                     PGRES_COMMAND_OK, nullptr)) {
            LogWarning("heartbeat connection setup failed: " + error->message);
            heartbeat_conn_.Reset();
            return;
        }
    }
    if (auto error = heartbeat_conn_.Exec("SELECT snowcdc.heartbeat()", PGRES_TUPLES_OK, nullptr)) {
        ErrorCounter("heartbeat").Inc();
        // A permission error already carries its fix (ClassifyResult).
        bool denied = error->message.find("permission denied") != std::string::npos;
        LogWarning("heartbeat failed: " + error->message +
                   (denied ? ""
                           : "; install the extension in this database (CREATE EXTENSION "
                             "snowcdc) so an idle slot can advance"));
        heartbeat_conn_.Reset();
        return;
    }
    heartbeats_->Inc();
    LogDebug("heartbeat sent");
}

Shipper::Clock::time_point Shipper::NextDeadline(Clock::time_point now) const {
    Clock::time_point deadline = std::min(next_status_, now + kIdleWakeup);
    if (auto batch = batcher_.Deadline())
        deadline = std::min(deadline, *batch);
    if (heartbeat_interval_.count() > 0)
        deadline = std::min(deadline, std::max(next_heartbeat_, last_data_ + heartbeat_interval_));
    if (sink_->InFlightBytes() > 0)
        deadline = std::min(deadline, now + kSinkPollInterval);
    if (tracker_.Confirmed() > sent_confirmed_)
        deadline = std::min(deadline, ConfirmedFeedbackDue());
    return deadline;
}

Shipper::Outcome Shipper::Wait(Clock::time_point now) {
    Clock::time_point deadline = NextDeadline(now);
    if (Backpressured()) {
        // The sink must make room: let it work until the next timer instead of the socket.
        if (sink_->Poll(deadline))
            return ServiceSink(Clock::now(), false);  // reports the sink's error
        if (Backpressured() && Clock::now() < deadline)
            poll(nullptr, 0,
                 MillisUntil(std::min(deadline, Clock::now() + kSinkPollInterval), Clock::now()));
        return Outcome::kContinue;
    }
    pollfd pfd{stream_.Socket(), static_cast<short>(POLLIN | (output_pending_ ? POLLOUT : 0)), 0};
    // Messages libpq already buffered (the read budget ran out) do not wake poll().
    int rc = poll(&pfd, 1, input_drained_ ? MillisUntil(deadline, now) : 0);
    if (rc < 0 && errno != EINTR)
        return Failed({PgFailure::kStreamLost, "waiting on the replication socket failed"});
    if (rc > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        if (auto error = stream_.ConsumeInput())
            return Failed(*error);
    }
    return Outcome::kContinue;
}

Shipper::Outcome Shipper::WaitToReconnect(Clock::time_point until) {
    LogInfo(
        "reconnecting to Postgres",
        {{"in_ms",
          std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count()}});
    while (!StopRequested()) {
        Clock::time_point now = Clock::now();
        if (now >= until)
            return Outcome::kRetry;  // time for the next attempt
        if (TakeReloadRequest())
            ApplyReload();
        if (ServiceSink(now, false) == Outcome::kFatal)
            return Outcome::kFatal;
        Clock::time_point deadline = until;
        if (auto batch = batcher_.Deadline())
            deadline = std::min(deadline, *batch);
        if (sink_->InFlightBytes() > 0)
            deadline = std::min(deadline, now + kSinkPollInterval);
        poll(nullptr, 0, MillisUntil(deadline, now));
    }
    return Outcome::kStop;
}

int Shipper::Drain(bool connected) {
    LogInfo("stopping: draining in-flight data",
            {{"drain_timeout_ms", settings_.GetDuration("drain_timeout").count()}});
    Clock::time_point deadline = Clock::now() + settings_.GetDuration("drain_timeout");
    bool settled = false;
    while (true) {
        Clock::time_point now = Clock::now();
        if (ServiceSink(now, true) == Outcome::kFatal)
            break;
        settled = tracker_.Settled(sink_->DurablePosition());
        if (settled || now >= deadline)
            break;
        sink_->Poll(std::min(deadline, now + kSinkPollInterval));
        poll(nullptr, 0, MillisUntil(std::min(deadline, now + kSinkPollInterval), now));
    }
    if (connected && stream_.Connected()) {
        next_status_ = Clock::now();
        SendStatus(Clock::now(), false);
        stream_.Finish();
    }
    sink_->Close();
    if (!settled)
        LogWarning("drain timed out; data not yet durable will be replayed on the next start");
    LogInfo("stopped", {{"confirmed_lsn", FormatLsn(tracker_.Confirmed())}});
    return fatal_ ? 1 : 0;
}

}  // namespace snowcdc
