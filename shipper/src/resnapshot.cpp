// Re-snapshot of one table while streaming (see resnapshot.hpp for the method and why it is
// correct).
#include "resnapshot.hpp"

#include <cstdio>
#include <random>
#include <utility>

#include <nlohmann/json.hpp>

#include "log.hpp"

namespace snowcdc {

namespace {

constexpr auto kRetryDelay = std::chrono::seconds(1);
constexpr auto kVisibilityRetry = std::chrono::milliseconds(10);
constexpr size_t kRecentCommits = 1 << 16;
constexpr std::string_view kEnvelopeStart = "{\"op\":\"r\",\"lsn\":";

// Skips `"name":<integer>` at *pos; false when the text has something else there.
bool SkipIntegerField(std::string_view text, std::string_view name, size_t *pos) {
    std::string head = "\"" + std::string(name) + "\":";
    if (text.compare(*pos, head.size(), head) != 0)
        return false;
    size_t p = *pos + head.size();
    size_t digits = p;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9')
        ++p;
    if (p == digits || p >= text.size() || text[p] != ',')
        return false;
    *pos = p + 1;
    return true;
}

std::string RandomToken() {
    std::random_device device;
    std::mt19937_64 gen((static_cast<uint64_t>(device()) << 32) ^ device());
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(gen()));
    return buf;
}

Counter &TableCounter(const char *name, const char *help, const std::string &table) {
    return Metrics().GetCounter(name, help, {{"table", table}});
}

Gauge &RunningGauge(const std::string &table) {
    return Metrics().GetGauge("snowcdc_resnapshot_running",
                              "1 while a re-snapshot of the table runs, else 0",
                              {{"table", table}});
}

}  // namespace

std::optional<std::string> RewriteSnapshotEnvelope(std::string_view text, uint64_t lsn,
                                                   uint32_t seq, int64_t ts) {
    if (text.substr(0, kEnvelopeStart.size()) != kEnvelopeStart)
        return std::nullopt;
    size_t pos = 1 + std::string_view("\"op\":\"r\",").size();
    if (!SkipIntegerField(text, "lsn", &pos) || !SkipIntegerField(text, "seq", &pos) ||
        !SkipIntegerField(text, "ts", &pos))
        return std::nullopt;
    std::string out = "{\"op\":\"r\",\"lsn\":" + std::to_string(lsn) +
                      ",\"seq\":" + std::to_string(seq) + ",\"ts\":" + std::to_string(ts) + ",";
    out.append(text.substr(pos));
    return out;
}

// ---- ChunkWindow ------------------------------------------------------------------------

ChunkWindow::ChunkWindow(std::string schema, std::string table, std::vector<Row> rows)
    : schema_(std::move(schema)),
      table_(std::move(table)),
      rows_(std::move(rows)),
      alive_(rows_.size(), true),
      remaining_(rows_.size()) {
    for (size_t i = 0; i < rows_.size(); ++i)
        by_key_.emplace(rows_[i].key, i);
}

void ChunkWindow::OnChange(const FramedRecord &rec) {
    if (!open_ || remaining_ == 0 || rec.schema != schema_ || rec.table != table_)
        return;
    if (rec.op == 't') {
        alive_.assign(rows_.size(), false);
        remaining_ = 0;
        return;
    }
    if (rec.op != 'c' && rec.op != 'u' && rec.op != 'd')
        return;
    auto it = by_key_.find(rec.key);
    if (it != by_key_.end() && alive_[it->second]) {
        alive_[it->second] = false;
        --remaining_;
    }
}

std::vector<std::string> ChunkWindow::Close(uint64_t lsn, uint32_t first_seq, int64_t ts) {
    std::vector<std::string> out;
    out.reserve(remaining_);
    uint32_t seq = first_seq;
    for (size_t i = 0; i < rows_.size(); ++i) {
        if (!alive_[i])
            continue;
        if (auto text = RewriteSnapshotEnvelope(rows_[i].record, lsn, seq, ts)) {
            out.push_back(std::move(*text));
            ++seq;
        }
    }
    open_ = false;
    return out;
}

// ---- Resnapshotter ----------------------------------------------------------------------

Resnapshotter::Resnapshotter(std::string conninfo, int64_t chunk_rows, bool numeric_as_string)
    : conninfo_(std::move(conninfo)),
      chunk_rows_(chunk_rows > 0 ? chunk_rows : 1),
      numeric_as_string_(numeric_as_string),
      token_(RandomToken()) {}

bool Resnapshotter::EnsureConnected() {
    if (conn_)
        return true;
    if (auto error = PgConn::Connect(conninfo_, false, &conn_)) {
        ConnectionLost(*error);
        return false;
    }
    // Key values travel as text between chunks (and restarts): fix their text forms.
    if (auto error = conn_.Exec(
            "SET datestyle = ISO, YMD; SET intervalstyle = postgres; SET extra_float_digits = 3; "
            "SET client_encoding = 'UTF8'",
            PGRES_COMMAND_OK, nullptr)) {
        ConnectionLost(*error);
        return false;
    }
    return true;
}

void Resnapshotter::ConnectionLost(const PgError &error) {
    LogWarning("re-snapshot: " + error.message + "; retrying in a second",
               {{"kind", PgFailureName(error.kind)}});
    conn_.Reset();
    retry_at_ = Clock::now() + kRetryDelay;
}

void Resnapshotter::Service(uint64_t confirmed, Clock::time_point now) {
    if (now < retry_at_ || (!reload_ && !current_))
        return;
    if (!EnsureConnected())
        return;
    WriteProgress(confirmed);
    if (reload_ && conn_)
        LoadRequests();
    if (conn_ && current_ && !active_ && !current_->all_read)
        IssueChunk();
}

void Resnapshotter::OnRequestMessage(std::string_view text) {
    reload_ = true;
    try {
        nlohmann::json content =
            nlohmann::json::parse(nlohmann::json::parse(text).at("content").get<std::string>());
        announced_.emplace(content.at("id").get<int64_t>(),
                           content.at("status").get<std::string>());
    } catch (const nlohmann::json::exception &e) {
        LogWarning(std::string("snowcdc.snapshot_request message not understood: ") + e.what());
    }
}

// True once the announced request's row shows the announced status to a new snapshot.
bool Resnapshotter::AnnouncedVisible() {
    if (!announced_)
        return true;
    PgResult res;
    if (auto error = conn_.Exec("SELECT status FROM snowcdc.snapshot_request WHERE id = " +
                                    std::to_string(announced_->first),
                                PGRES_TUPLES_OK, &res)) {
        ConnectionLost(*error);
        return false;
    }
    const std::string &wanted = announced_->second;
    bool visible = res.Rows() == 1 && (wanted != "cancelled" || res.Value(0, 0) == wanted);
    if (!visible) {
        retry_at_ = Clock::now() + kVisibilityRetry;
        return false;
    }
    announced_.reset();
    return true;
}

void Resnapshotter::LoadRequests() {
    if (!AnnouncedVisible())
        return;
    PgResult res;
    if (auto error = conn_.Exec(
            "SELECT id, rel::text, coalesce(last_key::text, ''), last_key IS NULL, chunks "
            "FROM snowcdc.snapshot_request WHERE status IN ('requested', 'running') ORDER BY id",
            PGRES_TUPLES_OK, &res)) {
        if (error->kind == PgFailure::kConnect || error->kind == PgFailure::kStreamLost ||
            PQstatus(conn_.get()) != CONNECTION_OK)
            return ConnectionLost(*error);
        // Extension 1.0 (or none): no re-snapshot requests can exist.
        LogDebug("re-snapshot requests not readable: " + error->message);
        reload_ = false;
        return;
    }
    reload_ = false;
    if (current_) {
        for (int i = 0; i < res.Rows(); ++i)
            if (std::stoll(res.Value(i, 0)) == current_->id)
                return;
        return Abandon("its request is no longer pending (cancelled)");
    }
    if (res.Rows() == 0)
        return;
    Request req;
    req.id = std::stoll(res.Value(0, 0));
    req.table = res.Value(0, 1);
    req.after = res.Value(0, 2);
    req.from_start = res.Value(0, 3) == "t";
    req.next_chunk = std::stoll(res.Value(0, 4)) + 1;
    PgResult started;
    if (auto error = conn_.Exec("SELECT snowcdc.snapshot_start(" + std::to_string(req.id) + ")",
                                PGRES_TUPLES_OK, &started))
        return ConnectionLost(*error);
    current_ = std::move(req);
    RunningGauge(current_->table).Set(1);
    LogInfo(current_->from_start ? "re-snapshot started" : "re-snapshot resumes",
            {{"table", current_->table},
             {"request", current_->id},
             {"chunk", current_->next_chunk},
             {"after_key", current_->after}});
}

void Resnapshotter::IssueChunk() {
    Request &req = *current_;
    std::string id = std::to_string(req.id);
    std::string chunk = std::to_string(req.next_chunk);
    std::string token = token_ + "-" + std::to_string(++reads_);
    auto mark = [&](const char *which) {
        return "SELECT snowcdc.snapshot_watermark(" + id + ", " + chunk + ", '" + which + "', " +
               conn_.Literal(token) + ")";
    };
    std::string select = "SELECT record, key::text FROM snowcdc.snapshot_chunk(" + id + ", " +
                         (req.from_start ? "NULL" : conn_.Literal(req.after) + "::text[]") + ", " +
                         std::to_string(chunk_rows_) + ", " +
                         (numeric_as_string_ ? "true" : "false") + ")";
    PgResult res;
    std::vector<uint32_t> invisible;
    if (auto error = conn_.Exec(mark("low"), PGRES_TUPLES_OK, nullptr))
        return ConnectionLost(*error);
    if (!ReadChunk(select, &res, &invisible))
        return;
    if (auto error = conn_.Exec(mark("high"), PGRES_TUPLES_OK, nullptr))
        return ConnectionLost(*error);
    std::vector<ChunkWindow::Row> rows;
    rows.reserve(static_cast<size_t>(res.Rows()));
    std::string schema;
    std::string table;
    for (int i = 0; i < res.Rows(); ++i) {
        ChunkWindow::Row row{res.Value(i, 0), ""};
        std::string error;
        std::optional<FramedRecord> rec = FrameRecord(row.record, &error);
        if (!rec)
            return Fail("snowcdc.snapshot_chunk returned a record that is not snowcdc v1 (" +
                        error + "); install the matching extension version");
        row.key = std::string(rec->key);
        schema = std::string(rec->schema);
        table = std::string(rec->table);
        rows.push_back(std::move(row));
    }
    std::string last_key = res.Rows() > 0 ? res.Value(res.Rows() - 1, 1) : std::string();
    bool last = res.Rows() < chunk_rows_;
    active_.emplace(ActiveChunk{req.next_chunk, ChunkWindow(schema, table, std::move(rows)),
                                last_key, last, std::move(invisible), token});
    LogDebug("re-snapshot chunk read",
             {{"table", req.table}, {"chunk", req.next_chunk}, {"rows", res.Rows()}});
}

// Selects the chunk in a REPEATABLE READ transaction, with the xip list of its snapshot.
bool Resnapshotter::ReadChunk(const std::string &select, PgResult *rows,
                              std::vector<uint32_t> *invisible) {
    PgResult xip;
    std::optional<PgError> error =
        conn_.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK, nullptr);
    if (!error)
        error = conn_.Exec("SELECT x::text FROM pg_snapshot_xip(pg_current_snapshot()) AS x",
                           PGRES_TUPLES_OK, &xip);
    if (!error)
        error = conn_.Exec(select, PGRES_TUPLES_OK, rows);
    if (!error)
        error = conn_.Exec("COMMIT", PGRES_COMMAND_OK, nullptr);
    if (error) {
        if (PQstatus(conn_.get()) != CONNECTION_OK) {
            ConnectionLost(*error);
        } else {
            conn_.Exec("ROLLBACK", PGRES_COMMAND_OK, nullptr);
            Fail("reading chunk " + std::to_string(current_->next_chunk) +
                 " failed: " + error->message);
        }
        return false;
    }
    for (int i = 0; i < xip.Rows(); ++i)
        invisible->push_back(static_cast<uint32_t>(std::stoull(xip.Value(i, 0))));
    return true;
}

WatermarkOutcome Resnapshotter::OnWatermark(const FramedRecord &rec, std::string_view text) {
    WatermarkOutcome out;
    std::string token;
    bool high = false;
    try {
        nlohmann::json content =
            nlohmann::json::parse(nlohmann::json::parse(text).at("content").get<std::string>());
        token = content.at("token").get<std::string>();
        high = content.at("mark").get<std::string>() == "high";
    } catch (const nlohmann::json::exception &e) {
        LogWarning(std::string("ignoring a snowcdc.watermark message that is not ours: ") +
                   e.what());
        return out;
    }
    if (!current_)
        return out;
    if (!active_ || active_->token != token) {
        // A replayed high watermark (after a reconnect) of a chunk emitted before: its records
        // are in the sink already, and its transaction must wait for them. Any other
        // watermark is another process's or an abandoned read's.
        for (PendingProgress &p : pending_)
            if (high && p.token == token) {
                out.replayed_last = p.last_pos;
                if (p.hw_end_lsn == 0)
                    awaiting_commit_ = true;
            }
        return out;
    }
    if (!high) {
        for (uint32_t xid : active_->invisible)
            if (recent_count_.count(xid) > 0) {
                // Committed before L but not yet visible to the select: read the chunk again.
                LogDebug("re-snapshot chunk missed a commit before its low watermark; rereading",
                         {{"table", current_->table}, {"chunk", active_->chunk}, {"xid", xid}});
                TableCounter("snowcdc_resnapshot_chunks_reread_total",
                             "Re-snapshot chunks read again because their select missed a "
                             "transaction committed before the low watermark",
                             current_->table)
                    .Inc();
                ++current_->rereads;
                active_.reset();
                return out;
            }
        active_->window.Open();
        return out;
    }
    ChunkWindow &window = active_->window;
    if (!window.IsOpen()) {  // cannot happen: the stream has the low watermark first
        LogWarning("re-snapshot chunk's high watermark came without its low one; rereading",
                   {{"table", current_->table}, {"chunk", active_->chunk}});
        active_.reset();
        return out;
    }
    int64_t chunk = active_->chunk;
    size_t dropped = window.Dropped();
    PendingProgress progress{chunk, active_->last_key, 0, active_->last, 0, std::nullopt, token};
    for (std::string &record : window.Close(rec.lsn, rec.seq + 1, rec.ts)) {
        std::string error;
        std::optional<FramedRecord> framed = FrameRecord(record, &error);
        StreamPosition pos{framed->lsn, framed->seq};
        uint64_t hash = framed->RouteHash();
        out.records.push_back({std::move(record), pos, hash});
        progress.last_pos = pos;
    }
    progress.rows = static_cast<int64_t>(out.records.size());
    pending_.push_back(std::move(progress));
    awaiting_commit_ = true;
    Request &req = *current_;
    if (!active_->last_key.empty()) {
        req.after = active_->last_key;
        req.from_start = false;
    }
    req.all_read = active_->last;
    ++req.next_chunk;
    req.rows += static_cast<int64_t>(out.records.size());
    req.dropped += static_cast<int64_t>(dropped);
    TableCounter("snowcdc_resnapshot_rows_total", "Re-snapshot r records emitted", req.table)
        .Inc(static_cast<double>(out.records.size()));
    TableCounter("snowcdc_resnapshot_rows_dropped_total",
                 "Re-snapshot chunk rows dropped because the row changed between the watermarks",
                 req.table)
        .Inc(static_cast<double>(dropped));
    TableCounter("snowcdc_resnapshot_chunks_total", "Re-snapshot chunks merged into the stream",
                 req.table)
        .Inc();
    active_.reset();
    return out;
}

void Resnapshotter::OnCommit(uint64_t xid, uint64_t end_lsn) {
    uint32_t xid32 = static_cast<uint32_t>(xid);
    recent_commits_.push_back(xid32);
    ++recent_count_[xid32];
    if (recent_commits_.size() > kRecentCommits) {
        auto it = recent_count_.find(recent_commits_.front());
        if (--it->second == 0)
            recent_count_.erase(it);
        recent_commits_.pop_front();
    }
    if (!awaiting_commit_)
        return;
    awaiting_commit_ = false;
    for (PendingProgress &p : pending_)
        if (p.hw_end_lsn == 0)
            p.hw_end_lsn = end_lsn;
}

void Resnapshotter::OnDisconnect() {
    active_.reset();  // its watermarks are read again with the stream; the chunk is re-issued
    awaiting_commit_ = false;
}

void Resnapshotter::WriteProgress(uint64_t confirmed) {
    while (current_ && !pending_.empty() && pending_.front().hw_end_lsn != 0 &&
           confirmed >= pending_.front().hw_end_lsn) {
        const PendingProgress &p = pending_.front();
        PgResult res;
        std::string sql = "SELECT snowcdc.snapshot_advance(" + std::to_string(current_->id) + ", " +
                          std::to_string(p.chunk) + ", " +
                          (p.last_key.empty() ? "NULL" : conn_.Literal(p.last_key)) + "::text[], " +
                          std::to_string(p.rows) + ", " + (p.done ? "true" : "false") + ")";
        if (auto error = conn_.Exec(sql, PGRES_TUPLES_OK, &res))
            return ConnectionLost(*error);
        if (res.Value(0, 0) != "t")
            return Abandon("its request is no longer running (cancelled)");
        bool done = p.done;
        pending_.pop_front();
        if (done) {
            LogInfo("re-snapshot done", {{"table", current_->table},
                                         {"request", current_->id},
                                         {"rows", current_->rows},
                                         {"rows_dropped", current_->dropped},
                                         {"chunks_reread", current_->rereads}});
            RunningGauge(current_->table).Set(0);
            current_.reset();
            reload_ = true;  // the next request, if any
        }
    }
}

void Resnapshotter::Abandon(const std::string &why) {
    if (current_) {
        LogInfo("re-snapshot stopped: " + why,
                {{"table", current_->table}, {"request", current_->id}});
        RunningGauge(current_->table).Set(0);
    }
    current_.reset();
    active_.reset();
    pending_.clear();
    awaiting_commit_ = false;
    reload_ = true;
}

void Resnapshotter::Fail(const std::string &detail) {
    std::string table = current_ ? current_->table : std::string();
    LogError("re-snapshot failed: " + detail +
                 "; fix the cause and request it again (snowcdc-shipper resnapshot --table " +
                 table + ")",
             {{"table", table}});
    if (current_)
        conn_.Exec("SELECT snowcdc.snapshot_fail(" + std::to_string(current_->id) + ", " +
                       conn_.Literal(detail) + ")",
                   PGRES_TUPLES_OK, nullptr);
    Abandon("failed");
}

// ---- The command ------------------------------------------------------------------------

int RunResnapshotCommand(const Settings &settings, const std::string &table, bool cancel) {
    PgConn conn;
    if (auto error = PgConn::Connect(settings.GetString("conninfo"), false, &conn)) {
        std::fprintf(stderr, "%s\n", error->message.c_str());
        return 1;
    }
    std::string rel = conn.Literal(table) + "::regclass";
    std::string call = std::string("SELECT snowcdc.") +
                       (cancel ? "cancel_snapshot(" : "request_snapshot(") + rel + ")";
    PgResult res(PQexec(conn.get(), call.c_str()));
    if (res.Status() != PGRES_TUPLES_OK) {
        std::string message = PQresultErrorMessage(res.get());
        if (message.find("function snowcdc.") != std::string::npos &&
            message.find("does not exist") != std::string::npos)
            message +=
                "fix: re-snapshots need the snowcdc extension 1.1 in this database: "
                "ALTER EXTENSION snowcdc UPDATE (or CREATE EXTENSION snowcdc)\n";
        else if (message.find("permission denied") != std::string::npos)
            message +=
                "fix: grant this role the re-snapshot functions: see the operators' part "
                "of sql/postgres/shipper_role.sql\n";
        std::fprintf(stderr, "%s", message.c_str());
        return 1;
    }
    if (cancel && res.Value(0, 0) == "0")
        std::printf("table %s has no pending re-snapshot\n", table.c_str());
    if (auto error = conn.Exec("SELECT id, status, rows, chunks, requested FROM "
                               "snowcdc.snapshot_requests WHERE \"table\" = " +
                                   rel + " ORDER BY id DESC LIMIT 5",
                               PGRES_TUPLES_OK, &res)) {
        std::fprintf(stderr, "%s\n", error->message.c_str());
        return 1;
    }
    std::printf("%-8s %-10s %-10s %-8s %s\n", "request", "status", "rows", "chunks", "requested");
    for (int i = 0; i < res.Rows(); ++i)
        std::printf("%-8s %-10s %-10s %-8s %s\n", res.Value(i, 0).c_str(), res.Value(i, 1).c_str(),
                    res.Value(i, 2).c_str(), res.Value(i, 3).c_str(), res.Value(i, 4).c_str());
    return 0;
}

}  // namespace snowcdc
