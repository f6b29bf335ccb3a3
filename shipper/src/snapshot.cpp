// Initial snapshot: planning, parallel range readers, and the ndjson-dir snapshot store.
#include "snapshot.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "log.hpp"
#include "metrics.hpp"

namespace snowcdc {
namespace {

using json = nlohmann::json;

const char *StateName(SnapshotPlan::State state) {
    switch (state) {
        case SnapshotPlan::State::kCreating:
            return "creating";
        case SnapshotPlan::State::kReading:
            return "reading";
        case SnapshotPlan::State::kDone:
            return "done";
    }
    return "?";
}

// Table patterns "public.*,sales.orders" (a missing schema means public, '*' any characters,
// double quotes are dropped) as a SQL condition on the `schema` and `table` name expressions;
// "" when there is no pattern. `exact_only`: only the patterns without '*' (tables named
// explicitly).
std::string TableCondition(PgConn &conn, const std::string &patterns, const std::string &schema,
                           const std::string &table, bool exact_only = false) {
    std::string cond;
    size_t start = 0;
    while (start <= patterns.size()) {
        size_t comma = patterns.find(',', start);
        std::string item =
            patterns.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? patterns.size() + 1 : comma + 1;
        item.erase(std::remove(item.begin(), item.end(), '"'), item.end());
        size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
        if (b == std::string::npos)
            continue;
        item = item.substr(b, e - b + 1);
        if (exact_only && item.find('*') != std::string::npos)
            continue;
        if (item.find('.') == std::string::npos)
            item = "public." + item;
        std::string like;
        for (char c : item)
            like += c == '*'               ? std::string("%")
                    : c == '%' || c == '_' ? std::string("\\") + c
                                           : std::string(1, c);
        cond += (cond.empty() ? "" : " OR ") +
                ("(" + schema + " || '.' || " + table + ") LIKE " + conn.Literal(like));
    }
    return cond.empty() ? "" : "(" + cond + ")";
}

// Table c (in schema n) matches `patterns` itself or through a partitioned table above it
// (pg_partition_ancestors lists nothing for a table that is not a partition).
std::string MatchesOrAncestorMatches(PgConn &conn, const std::string &patterns, bool exact_only) {
    std::string own = TableCondition(conn, patterns, "n.nspname", "c.relname", exact_only);
    if (own.empty())
        return "false";
    return "(" + own +
           " OR EXISTS (SELECT 1 FROM pg_partition_ancestors(c.oid) a JOIN pg_class ac ON ac.oid "
           "= a.relid JOIN pg_namespace an ON an.oid = ac.relnamespace WHERE " +
           TableCondition(conn, patterns, "an.nspname", "ac.relname", exact_only) + "))";
}

// The tables of the snapshot, as a condition on pg_class c / pg_namespace n. snapshot_tables
// when set: a partition matches when it or a partitioned table above it matches, so naming
// the parent takes its leaves. Otherwise the plugin's own filter (include-tables,
// exclude-tables), on the leaf names as the plugin applies it.
std::string SelectedTables(PgConn &conn, const SnapshotOptions &options) {
    if (!options.tables.empty())
        return MatchesOrAncestorMatches(conn, options.tables, false);
    std::string include = TableCondition(conn, options.include_tables, "n.nspname", "c.relname");
    std::string exclude = TableCondition(conn, options.exclude_tables, "n.nspname", "c.relname");
    return (include.empty() ? "true" : include) + (exclude.empty() ? "" : " AND NOT " + exclude);
}

// Tables named without wildcards in snapshot_tables (or a partitioned parent so named).
std::string ExplicitTables(PgConn &conn, const SnapshotOptions &options) {
    return MatchesOrAncestorMatches(conn, options.tables, true);
}

std::string CtidText(uint64_t seq) {
    return "(" + std::to_string(seq / kSnapshotTuplesPerPage) + "," +
           std::to_string(seq % kSnapshotTuplesPerPage + 1) + ")";
}

// One CopyData message of a binary COPY of one text column: the 19-byte file header before
// the first row, then per row a field count (1) and the value's length and bytes; the trailer
// is a field count of -1. Sets *record to the row's value (empty view: no row in this
// message). False when the message is not in that form.
bool ParseBinaryCopyRow(std::string_view message, bool *header_seen, std::string_view *record) {
    static constexpr char kSignature[] = "PGCOPY\n\377\r\n";
    auto u32 = [&](size_t at) {
        const auto *p = reinterpret_cast<const unsigned char *>(message.data() + at);
        return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    };
    *record = {};
    if (!*header_seen) {
        if (message.size() < 19 || message.substr(0, 11) != std::string_view(kSignature, 11))
            return false;
        size_t extension = u32(15);
        if (message.size() < 19 + extension)
            return false;
        message.remove_prefix(19 + extension);
        *header_seen = true;
    }
    if (message.size() < 2)
        return message.empty();
    int16_t fields = static_cast<int16_t>((static_cast<unsigned char>(message[0]) << 8) |
                                          static_cast<unsigned char>(message[1]));
    if (fields == -1)
        return message.size() == 2;
    if (fields != 1 || message.size() < 6)
        return false;
    uint32_t length = u32(2);
    if (length == 0xFFFFFFFFu || message.size() != 6 + size_t{length})
        return false;
    *record = message.substr(6);
    return true;
}

// Runs a COPY ... TO STDOUT whose rows are records, appending each to `writer`. Binary COPY
// when the server encoding is UTF8 (then the text arrives as it is, without csv's scan of
// every byte: half of the server's work per row); otherwise csv, converted to the client
// encoding UTF8 (binary COPY would send the server encoding's bytes).
std::optional<PgError> CopyRecords(PgConn &conn, const std::string &query, bool binary,
                                   SnapshotWriter *writer, const SnapshotOptions &options,
                                   Counter *records, Counter *table_records, Counter *bytes) {
    std::string sql =
        "COPY (" + query + ") TO STDOUT " +
        (binary ? "(FORMAT binary)" : "(FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')");
    if (auto error = conn.Exec(sql, PGRES_COPY_OUT, nullptr))
        return error;
    bool header_seen = false;
    size_t uncommitted = 0;
    uint64_t count = 0;
    while (true) {
        char *raw = nullptr;
        int n = PQgetCopyData(conn.get(), &raw, 0);
        if (n == -1)
            break;
        if (n < 0)
            return PgError{PgFailure::kStreamLost, "snapshot read failed: " + conn.ErrorMessage()};
        std::unique_ptr<char, void (*)(void *)> owner(raw, PQfreemem);
        std::string_view row(raw, static_cast<size_t>(n));
        if (binary) {
            std::string_view message = row;
            if (!ParseBinaryCopyRow(message, &header_seen, &row))
                return PgError{PgFailure::kProtocol,
                               "snapshot read: unexpected binary COPY data (" +
                                   std::to_string(message.size()) + " bytes); please report it"};
            if (row.empty())
                continue;  // the header-only or trailer message
        } else if (!row.empty() && row.back() == '\n') {
            row.remove_suffix(1);
        }
        writer->Append(row);
        uncommitted += row.size() + 1;
        ++count;
        if (uncommitted >= options.commit_bytes) {
            writer->Checkpoint();
            records->Inc(static_cast<double>(count));
            table_records->Inc(static_cast<double>(count));
            bytes->Inc(static_cast<double>(uncommitted));
            uncommitted = 0;
            count = 0;
            if (options.stop && options.stop())
                return PgError{PgFailure::kStreamLost, kSnapshotStopped};
        }
    }
    records->Inc(static_cast<double>(count));
    table_records->Inc(static_cast<double>(count));
    bytes->Inc(static_cast<double>(uncommitted));
    PgResult res(PQgetResult(conn.get()));
    while (PGresult *extra = PQgetResult(conn.get()))
        PQclear(extra);
    if (res.Status() != PGRES_COMMAND_OK)
        return ClassifyResult(res.get(), "snapshot read (COPY of encode_rows)");
    return std::nullopt;
}

// The range reader: one connection, one transaction, ranges taken from a shared list.
class Readers {
  public:
    Readers(SnapshotPlan *plan, SnapshotStore *store, const SnapshotOptions &options,
            const std::string &exported)
        : plan_(plan), store_(store), options_(options), exported_(exported) {
        auto &m = Metrics();
        records_ = &m.GetCounter("snowcdc_snapshot_records_total", "Snapshot records read");
        bytes_ = &m.GetCounter("snowcdc_snapshot_bytes_total", "Snapshot record bytes read");
        ranges_done_ = &m.GetGauge("snowcdc_snapshot_ranges_done", "Snapshot ranges finished");
        ranges_total_ = &m.GetGauge("snowcdc_snapshot_ranges_total", "Snapshot ranges planned");
    }

    std::optional<PgError> Run() {
        for (size_t i = 0; i < plan_->ranges.size(); ++i)
            if (!plan_->ranges[i].done)
                todo_.push_back(i);
        ranges_total_->Set(static_cast<double>(plan_->ranges.size()));
        ranges_done_->Set(static_cast<double>(plan_->ranges.size() - todo_.size()));
        int n = std::max(1, std::min<int>(options_.parallelism, static_cast<int>(todo_.size())));
        std::vector<std::thread> threads;
        running_ = todo_.empty() ? 0 : n;
        for (int i = 0; i < running_; ++i)
            threads.emplace_back([this] { Work(); });
        ReportProgress();
        for (auto &t : threads)
            t.join();
        if (store_error_)
            std::rethrow_exception(store_error_);
        return error_;
    }

  private:
    // Until the readers finish: a progress line on a terminal (stderr) every second, a log
    // line every 10 seconds otherwise; the snowcdc_snapshot_* metrics at any time.
    void ReportProgress() {
        using Clock = std::chrono::steady_clock;
        bool tty = isatty(2) != 0;
        Clock::time_point started = Clock::now(), next_log = started + std::chrono::seconds(10);
        double bytes_at_start = bytes_->Value();
        std::unique_lock<std::mutex> lock(mu_);
        while (running_ > 0) {
            finished_.wait_for(lock, std::chrono::seconds(1));
            double seconds = std::chrono::duration<double>(Clock::now() - started).count() + 1e-9;
            double mb = (bytes_->Value() - bytes_at_start) / 1e6;
            if (tty) {
                std::fprintf(stderr, "\rsnapshot: %.0f/%.0f ranges, %.0f records, %.1f MB/s   ",
                             ranges_done_->Value(), ranges_total_->Value(), records_->Value(),
                             mb / seconds);
                std::fflush(stderr);
            } else if (Clock::now() >= next_log) {
                next_log += std::chrono::seconds(10);
                LogInfo("snapshot progress", {{"ranges_done", ranges_done_->Value()},
                                              {"ranges_total", ranges_total_->Value()},
                                              {"records_total", records_->Value()},
                                              {"mb_per_s", mb / seconds}});
            }
        }
        if (tty)
            std::fprintf(stderr, "\n");
    }

    bool Next(size_t *index) {
        std::lock_guard<std::mutex> lock(mu_);
        if (error_ || store_error_ || next_ >= todo_.size())
            return false;
        *index = todo_[next_++];
        return true;
    }

    void Fail(PgError error) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_)
            error_ = std::move(error);
    }

    void Work() {
        try {
            if (auto error = WorkOrError())
                Fail(*error);
        } catch (const SnapshotStoreError &) {
            std::lock_guard<std::mutex> lock(mu_);
            if (!store_error_)
                store_error_ = std::current_exception();
        }
        std::lock_guard<std::mutex> lock(mu_);
        --running_;
        finished_.notify_all();
    }

    std::optional<PgError> WorkOrError() {
        size_t index = 0;
        if (!Next(&index))
            return std::nullopt;
        PgConn conn;
        if (auto error = PgConn::Connect(options_.conninfo, false, &conn))
            return error;
        PgResult res;
        std::vector<std::string> begin = {"SET client_encoding = 'UTF8'",
                                          "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"};
        if (!exported_.empty())
            begin.push_back("SET TRANSACTION SNAPSHOT " + conn.Literal(exported_));
        for (const auto &sql : begin)
            if (auto error = conn.Exec(sql, PGRES_COMMAND_OK, &res))
                return error;
        if (auto error = conn.Exec("SELECT current_setting('server_encoding') = 'UTF8'",
                                   PGRES_TUPLES_OK, &res))
            return error;
        bool binary = res.Value(0, 0) == "t";
        do {
            if (auto error = ReadRange(conn, plan_->ranges[index], binary))
                return error;
            std::lock_guard<std::mutex> lock(mu_);
            plan_->ranges[index].done = true;
            store_->SavePlan(*plan_);
            ranges_done_->Add(1);
            LogInfo("snapshot range done", {{"stream", plan_->ranges[index].StreamName()},
                                            {"table", plan_->ranges[index].table},
                                            {"ranges_done", ranges_done_->Value()},
                                            {"ranges_total", ranges_total_->Value()},
                                            {"records_total", records_->Value()}});
        } while (Next(&index));
        return conn.Exec("COMMIT", PGRES_COMMAND_OK, &res);
    }

    std::optional<PgError> ReadRange(PgConn &conn, const SnapshotRange &range, bool binary) {
        // A table dropped since the plan was made has nothing left to read; its rows already
        // sent stay in the sink (the warehouse is told of drops by DDL handling, not here).
        PgResult exists;
        if (auto error = conn.Exec("SELECT oid::regclass::text FROM pg_catalog.pg_class WHERE "
                                   "oid = " +
                                       std::to_string(range.relid),
                                   PGRES_TUPLES_OK, &exists))
            return error;
        if (exists.Rows() == 0) {
            LogWarning("snapshot skips a table dropped since the plan was made",
                       {{"table", range.table}, {"relid", range.relid}});
            return std::nullopt;
        }
        std::string table = exists.Value(0, 0);  // its name now (it may have been renamed)
        // With the table locked no rewrite can start until this transaction ends; one that
        // happened since the plan shows as a new relfilenode.
        PgResult filenode;
        if (auto error = conn.Exec("LOCK TABLE ONLY " + table + " IN ACCESS SHARE MODE",
                                   PGRES_COMMAND_OK, &filenode))
            return error;
        if (auto error =
                conn.Exec("SELECT pg_relation_filenode(" + std::to_string(range.relid) + ")",
                          PGRES_TUPLES_OK, &filenode))
            return error;
        if (range.relfilenode != 0 && filenode.Value(0, 0) != std::to_string(range.relfilenode))
            return PgError{PgFailure::kQuery,
                           "table " + table +
                               " was rewritten (VACUUM FULL, CLUSTER or TRUNCATE) during the "
                               "snapshot; the snapshot resumes and reads it again"};
        Counter *table_records =
            &Metrics().GetCounter("snowcdc_snapshot_table_records_total",
                                  "Snapshot records read, per table", {{"table", range.table}});
        std::optional<uint64_t> committed;
        std::unique_ptr<SnapshotWriter> writer = store_->OpenStream(range.StreamName(), &committed);
        std::string rel = std::to_string(range.relid) + "::oid::regclass";
        std::string lsn = conn.Literal(FormatLsn(plan_->RecordLsn()));
        std::string ts = conn.Literal(plan_->snapshot_time);
        std::string numeric = options_.numeric_as_string ? "true" : "false";
        std::string to = range.block_to ? std::to_string(*range.block_to) : "NULL";
        int64_t from = range.block_from;
        if (committed) {
            // The rest of the block the stream ended in, row by row, then whole blocks.
            int64_t block = static_cast<int64_t>(*committed / kSnapshotTuplesPerPage);
            LogInfo("snapshot range resumes after what the sink holds",
                    {{"stream", range.StreamName()}, {"after_ctid", CtidText(*committed)}});
            std::string rows = "SELECT snowcdc.encode_row(" + rel + ", t, " + lsn +
                               ", snowcdc.snapshot_seq(t.ctid), " + ts + ", " + numeric +
                               ") FROM ONLY " + table + " AS t WHERE t.ctid > " +
                               conn.Literal(CtidText(*committed)) + "::tid AND t.ctid < " +
                               conn.Literal("(" + std::to_string(block + 1) + ",0)") +
                               "::tid ORDER BY t.ctid";
            if (auto error = CopyRecords(conn, rows, binary, writer.get(), options_, records_,
                                         table_records, bytes_))
                return error;
            from = block + 1;
        }
        if (!range.block_to || from < *range.block_to) {
            std::string query = "SELECT snowcdc.encode_rows(" + rel + ", " + lsn + ", " + ts +
                                ", " + std::to_string(from) + ", " + to + ", " + numeric + ")";
            if (auto error = CopyRecords(conn, query, binary, writer.get(), options_, records_,
                                         table_records, bytes_))
                return error;
        }
        writer->Commit();
        return std::nullopt;
    }

    SnapshotPlan *plan_;
    SnapshotStore *store_;
    const SnapshotOptions &options_;
    std::string exported_;
    std::mutex mu_;
    std::condition_variable finished_;
    int running_ = 0;
    std::vector<size_t> todo_;
    size_t next_ = 0;
    std::optional<PgError> error_;
    std::exception_ptr store_error_;
    Counter *records_;
    Counter *bytes_;
    Gauge *ranges_done_;
    Gauge *ranges_total_;
};

// ---- ndjson-dir store ----

void FsyncOrThrow(const std::string &path, int flags) {
    int fd = open(path.c_str(), flags | O_CLOEXEC);
    bool ok = fd >= 0 && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (!ok)
        throw SnapshotStoreError("cannot fsync " + path + ": " + std::strerror(saved) +
                                 "; fix permissions or disk, then restart");
}

std::string ReadAll(const std::string &path, bool *exists) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    *exists = fd >= 0;
    if (fd < 0) {
        if (errno == ENOENT)
            return "";
        throw SnapshotStoreError("cannot read " + path + ": " + std::strerror(errno));
    }
    std::string data;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        data.append(buf, static_cast<size_t>(n));
    int saved = errno;
    close(fd);
    if (n < 0)
        throw SnapshotStoreError("cannot read " + path + ": " + std::strerror(saved));
    return data;
}

class NdjsonSnapshotWriter : public SnapshotWriter {
  public:
    NdjsonSnapshotWriter(std::string path, int fd, bool created)
        : path_(std::move(path)), fd_(fd), dir_dirty_(created) {}
    ~NdjsonSnapshotWriter() override { close(fd_); }
    NdjsonSnapshotWriter(const NdjsonSnapshotWriter &) = delete;
    NdjsonSnapshotWriter &operator=(const NdjsonSnapshotWriter &) = delete;

    void Append(std::string_view record) override {
        buffer_.append(record);
        buffer_ += '\n';
        if (buffer_.size() >= (1u << 20))
            Flush();
    }
    void Commit() override {
        Flush();
        if (fsync(fd_) != 0)
            throw SnapshotStoreError("cannot fsync " + path_ + ": " + std::strerror(errno) +
                                     "; fix the disk, then restart");
        if (dir_dirty_) {
            FsyncOrThrow(path_.substr(0, path_.rfind('/')), O_RDONLY | O_DIRECTORY);
            dir_dirty_ = false;
        }
    }

  private:
    void Flush() {
        size_t done = 0;
        while (done < buffer_.size()) {
            ssize_t n = write(fd_, buffer_.data() + done, buffer_.size() - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                throw SnapshotStoreError("cannot write " + path_ + ": " + std::strerror(errno) +
                                         "; free disk space, then restart");
            done += static_cast<size_t>(n);
        }
        buffer_.clear();
    }

    std::string path_;
    int fd_;
    bool dir_dirty_;
    std::string buffer_;
};

class NdjsonSnapshotStore : public SnapshotStore {
  public:
    explicit NdjsonSnapshotStore(std::string directory) : dir_(std::move(directory)) {}

    std::optional<SnapshotPlan> LoadPlan() override {
        return LoadPlanFile(PlanPath(), "remove it and the snap_*.ndjson files");
    }

    void SavePlan(const SnapshotPlan &plan) override { SavePlanFile(PlanPath(), plan); }

    std::unique_ptr<SnapshotWriter> OpenStream(const std::string &stream,
                                               std::optional<uint64_t> *committed) override {
        std::string path =
            dir_ + "/snap_" + stream.substr(stream.rfind("snap_") == 0 ? 5 : 0) + ".ndjson";
        bool exists = false;
        std::string data = ReadAll(path, &exists);
        size_t keep = data.rfind('\n') == std::string::npos ? 0 : data.rfind('\n') + 1;
        committed->reset();
        if (keep < data.size()) {
            LogWarning("truncating a torn last line (from a crash) of a snapshot stream",
                       {{"file", path}, {"bytes", data.size() - keep}});
            if (truncate(path.c_str(), static_cast<off_t>(keep)) != 0)
                throw SnapshotStoreError("cannot truncate " + path + ": " + std::strerror(errno) +
                                         "; fix permissions or disk");
            FsyncOrThrow(path, O_WRONLY);
        }
        if (keep > 0) {
            size_t start = keep >= 2 ? data.rfind('\n', keep - 2) : std::string::npos;
            start = start == std::string::npos ? 0 : start + 1;
            json last = json::parse(data.substr(start, keep - 1 - start), nullptr, false);
            if (!last.is_object() || !last.contains("seq") || !last["seq"].is_number_unsigned())
                throw SnapshotStoreError("last record of " + path +
                                         " has no seq; move the file away if it is not the "
                                         "shipper's");
            *committed = last["seq"].get<uint64_t>();
        }
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            throw SnapshotStoreError("cannot open " + path + ": " + std::strerror(errno) +
                                     "; fix permissions of output_dir");
        return std::make_unique<NdjsonSnapshotWriter>(path, fd, !exists);
    }

  private:
    std::string PlanPath() const { return dir_ + "/snapshot-plan.json"; }
    std::string dir_;
};

}  // namespace

std::string SnapshotRange::StreamName() const {
    return "snap_" + std::to_string(relid) + "_" + std::to_string(part) +
           (generation > 0 ? "_g" + std::to_string(generation) : "");
}

std::string SnapshotPlan::ToJson() const {
    json ranges_json = json::array();
    for (const auto &r : ranges)
        ranges_json.push_back({{"table", r.table},
                               {"relid", r.relid},
                               {"part", r.part},
                               {"block_from", r.block_from},
                               {"block_to", r.block_to ? json(*r.block_to) : json(nullptr)},
                               {"done", r.done},
                               {"relfilenode", r.relfilenode},
                               {"generation", r.generation}});
    return json{{"state", StateName(state)},
                {"consistent_point", FormatLsn(consistent_point)},
                {"snapshot_time", snapshot_time},
                {"ranges", ranges_json},
                {"retired_streams", retired_streams}}
        .dump();
}

SnapshotPlan SnapshotPlan::FromJson(const std::string &text) {
    json j = json::parse(text);
    SnapshotPlan plan;
    std::string state = j.at("state").get<std::string>();
    if (state == "creating")
        plan.state = State::kCreating;
    else if (state == "reading")
        plan.state = State::kReading;
    else if (state == "done")
        plan.state = State::kDone;
    else
        throw std::runtime_error("unknown state " + state);
    auto lsn = ParseLsn(j.at("consistent_point").get<std::string>());
    if (!lsn)
        throw std::runtime_error("bad consistent_point");
    plan.consistent_point = *lsn;
    plan.snapshot_time = j.at("snapshot_time").get<std::string>();
    if (j.contains("retired_streams"))
        plan.retired_streams = j["retired_streams"].get<std::vector<std::string>>();
    for (const auto &r : j.at("ranges")) {
        SnapshotRange range;
        range.table = r.at("table").get<std::string>();
        range.relid = r.at("relid").get<uint32_t>();
        range.part = r.at("part").get<int>();
        range.block_from = r.at("block_from").get<int64_t>();
        if (!r.at("block_to").is_null())
            range.block_to = r.at("block_to").get<int64_t>();
        range.done = r.at("done").get<bool>();
        range.relfilenode = r.value("relfilenode", 0u);
        range.generation = r.value("generation", 0);
        plan.ranges.push_back(range);
    }
    return plan;
}

namespace {

// Ranges of the tables matching `condition` (SQL on pg_class c and pg_namespace n): one per
// range_blocks, at least one per table, the last open-ended. Appended to *ranges.
std::optional<PgError> PlanTables(PgConn &conn, const SnapshotOptions &options,
                                  const std::string &condition, int generation,
                                  std::vector<SnapshotRange> *ranges) {
    std::string blocks = std::to_string(std::max<int64_t>(1, options.range_blocks));
    // keyed: the warehouse can apply the table's rows by key (replica identity FULL or USING
    // INDEX, or DEFAULT with a primary key).
    std::string sql =
        "SELECT c.oid::regclass::text, c.oid, r.part, r.block_from, r.block_to, "
        "pg_relation_filenode(c.oid), "
        "c.relreplident IN ('f', 'i') OR (c.relreplident = 'd' AND EXISTS (SELECT 1 FROM "
        "pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)) AS keyed, " +
        ExplicitTables(conn, options) +
        " AS named, c.relreplident "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
        "LATERAL snowcdc.snapshot_ranges(c.oid, greatest(1, ceil(pg_relation_size(c.oid) / "
        "current_setting('block_size')::numeric / " +
        blocks +
        ")::int)) r "
        "WHERE c.relkind = 'r' AND c.relpersistence = 'p' "
        "AND n.nspname NOT IN ('information_schema', 'snowcdc') AND n.nspname !~ '^pg_' AND " +
        condition + " ORDER BY n.nspname, c.relname, r.part";
    PgResult res;
    if (auto error = conn.Exec(sql, PGRES_TUPLES_OK, &res))
        return error;
    uint32_t warned = 0;
    for (int i = 0; i < res.Rows(); ++i) {
        SnapshotRange range;
        range.table = res.Value(i, 0);
        range.relid = static_cast<uint32_t>(std::stoul(res.Value(i, 1)));
        bool keyed = res.Value(i, 6) == "t", named = res.Value(i, 7) == "t";
        if (!keyed && generation == 0) {
            if (warned != range.relid)
                LogWarning(named ? "snapshot reads a table without a key because snapshot_tables "
                                   "names it; the warehouse cannot merge its rows by key"
                                 : "snapshot skips a table without a key: the warehouse could "
                                   "not apply its rows by key",
                           {{"table", range.table},
                            {"fix", (res.Value(i, 8) == "n"
                                         ? "ALTER TABLE " + range.table +
                                               " REPLICA IDENTITY DEFAULT (with a primary key) "
                                               "or REPLICA IDENTITY FULL"
                                         : "ALTER TABLE " + range.table +
                                               " ADD PRIMARY KEY (...), or ALTER TABLE " +
                                               range.table + " REPLICA IDENTITY FULL") +
                                        "; or name it in snapshot_tables to read it anyway"}});
            warned = range.relid;
            if (!named)
                continue;
        }
        range.part = std::stoi(res.Value(i, 2));
        range.block_from = std::stoll(res.Value(i, 3));
        if (!res.IsNull(i, 4))
            range.block_to = std::stoll(res.Value(i, 4));
        range.relfilenode = static_cast<uint32_t>(std::stoul(res.Value(i, 5)));
        range.generation = generation;
        ranges->push_back(range);
    }
    return std::nullopt;
}

// On resume: every table with unfinished ranges whose relfilenode changed since it was planned
// (or that no longer exists) gets its ranges planned again, from the start, under the next
// generation. Saves the plan when it changed.
std::optional<PgError> ReplanRewrittenTables(SnapshotPlan *plan, SnapshotStore *store,
                                             const SnapshotOptions &options) {
    std::map<uint32_t, uint32_t> planned;  // relid -> relfilenode, tables with work left
    for (const auto &r : plan->ranges)
        if (!r.done && r.relfilenode != 0)
            planned[r.relid] = r.relfilenode;
    if (planned.empty())
        return std::nullopt;
    PgConn conn;
    if (auto error = PgConn::Connect(options.conninfo, false, &conn))
        return error;
    std::string oids;
    for (const auto &[relid, filenode] : planned)
        oids += (oids.empty() ? "" : ",") + std::to_string(relid);
    PgResult res;
    if (auto error = conn.Exec("SELECT oid, pg_relation_filenode(oid) FROM pg_catalog.pg_class "
                               "WHERE oid IN (" +
                                   oids + ")",
                               PGRES_TUPLES_OK, &res))
        return error;
    std::map<uint32_t, uint32_t> now;
    for (int i = 0; i < res.Rows(); ++i)
        now[static_cast<uint32_t>(std::stoul(res.Value(i, 0)))] =
            static_cast<uint32_t>(std::stoul(res.Value(i, 1)));
    bool changed = false;
    for (const auto &[relid, filenode] : planned) {
        auto found = now.find(relid);
        if (found == now.end() || found->second == filenode)
            continue;  // unchanged; a dropped table is skipped by its reader
        int generation = 0;
        std::string table;
        for (const auto &r : plan->ranges)
            if (r.relid == relid) {
                generation = std::max(generation, r.generation);
                table = r.table;
            }
        std::vector<SnapshotRange> fresh;
        if (auto error = PlanTables(conn, options, "c.oid = " + std::to_string(relid),
                                    generation + 1, &fresh))
            return error;
        LogWarning(
            "table rewritten (VACUUM FULL, CLUSTER or TRUNCATE) since its snapshot began: "
            "reading it again from the start into new streams",
            {{"table", table},
             {"relfilenode_planned", filenode},
             {"relfilenode_now", found->second},
             {"generation", generation + 1},
             {"ranges", fresh.size()}});
        for (const auto &r : plan->ranges)
            if (r.relid == relid)
                plan->retired_streams.push_back(r.StreamName());
        plan->ranges.erase(
            std::remove_if(plan->ranges.begin(), plan->ranges.end(),
                           [relid = relid](const SnapshotRange &r) { return r.relid == relid; }),
            plan->ranges.end());
        plan->ranges.insert(plan->ranges.end(), fresh.begin(), fresh.end());
        changed = true;
    }
    if (changed)
        store->SavePlan(*plan);
    return std::nullopt;
}

}  // namespace

std::optional<PgError> PlanSnapshot(PgConn &conn, const SnapshotOptions &options,
                                    SnapshotPlan *plan) {
    PgResult res;
    if (auto error = conn.Exec("SELECT now()::text", PGRES_TUPLES_OK, &res))
        return error;
    plan->snapshot_time = res.Value(0, 0);
    // Permanent plain tables (partitions: the leaves, which hold the rows and which the plugin
    // names in its records) outside the system schemas, selected by SelectedTables().
    plan->ranges.clear();
    return PlanTables(conn, options, SelectedTables(conn, options), 0, &plan->ranges);
}

std::optional<PgError> ReadSnapshot(SnapshotPlan *plan, SnapshotStore *store,
                                    const SnapshotOptions &options,
                                    const std::string &exported_snapshot) {
    if (exported_snapshot.empty())
        if (auto error = ReplanRewrittenTables(plan, store, options))
            return error;
    Readers readers(plan, store, options, exported_snapshot);
    return readers.Run();
}

std::optional<SnapshotPlan> LoadPlanFile(const std::string &path, const std::string &also_remove) {
    bool exists = false;
    std::string text = ReadAll(path, &exists);
    if (!exists)
        return std::nullopt;
    try {
        return SnapshotPlan::FromJson(text);
    } catch (const std::exception &e) {
        throw SnapshotStoreError(path + " is unreadable (" + e.what() + "); restore it, or " +
                                 also_remove + ", and drop the slot to take the snapshot again");
    }
}

void SavePlanFile(const std::string &path, const SnapshotPlan &plan) {
    std::string tmp = path + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::string text = plan.ToJson() + "\n";
    bool ok = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
              fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp.c_str(), path.c_str()) != 0)
        throw SnapshotStoreError("cannot write " + path + ": " + std::strerror(ok ? errno : saved) +
                                 "; free disk space or fix permissions, then restart");
    size_t slash = path.rfind('/');
    FsyncOrThrow(slash == std::string::npos ? "."
                 : slash == 0               ? "/"
                                            : path.substr(0, slash),
                 O_RDONLY | O_DIRECTORY);
}

std::unique_ptr<SnapshotStore> MakeNdjsonSnapshotStore(const std::string &directory) {
    return std::make_unique<NdjsonSnapshotStore>(directory);
}

}  // namespace snowcdc
