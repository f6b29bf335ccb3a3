// The initial snapshot end to end: the real snowcdc-shipper binary with snapshot = initial
// copies the tables into the ndjson-dir sink (snap_*.ndjson) and then streams WAL from the
// slot's consistent point. Checks: rows of every type are written as the plugin writes them;
// writes during the snapshot are neither lost nor duplicated (the replica, merged by (lsn, seq),
// equals the table); SIGTERM or kill -9 mid-snapshot resumes each range after what it holds;
// snapshot_tables selects tables, a finished snapshot is not repeated, later tables come by WAL.
#include <dirent.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "big_table_load.hpp"
#include "pg_cluster.hpp"
#include "shipper_harness.hpp"

namespace snowcdc::testing {
namespace {

using json = nlohmann::json;
using std::chrono::seconds;

std::vector<std::string> SnapshotFiles(const std::string &dir) {
    std::vector<std::string> names;
    if (DIR *d = opendir(dir.c_str())) {
        while (dirent *e = readdir(d))
            if (std::string(e->d_name).rfind("snap_", 0) == 0)
                names.push_back(e->d_name);
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

// Complete lines of one snapshot stream file.
std::vector<json> ReadLines(const std::string &path) {
    std::vector<json> records;
    std::istringstream in(ReadFileText(path));
    std::string line;
    while (std::getline(in, line)) {
        if (in.eof())
            break;
        records.push_back(json::parse(line));
    }
    return records;
}

uint64_t SnapshotSize(const std::string &dir) {
    uint64_t total = 0;
    for (const auto &name : SnapshotFiles(dir))
        total += ReadFileText(dir + "/" + name).size();
    return total;
}

// The value of the sample `series` (name with labels, as printed) in a /metrics text; -1: none.
double MetricValue(const std::string &text, const std::string &series) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(series + " ", 0) == 0)
            return std::stod(line.substr(series.size() + 1));
    return -1;
}

class SnapshotTest : public ::testing::Test {
  protected:
    void SetUp() override {
        cluster_ = std::make_unique<TempCluster>();
        cluster_->Exec("CREATE TABLE done (id int PRIMARY KEY)");
        dir_ = MakeTempDir("snowcdc-snap-sink");
        log_ = dir_ + ".log";
    }
    void TearDown() override {
        shipper_.reset();
        if (HasFailure())
            std::fprintf(stderr, "---- shipper log %s ----\n%s\n", log_.c_str(),
                         ReadFileText(log_).c_str());
        if (!dir_.empty())
            RunShell("rm -rf " + dir_ + " " + log_);
    }

    void StartShipper(std::vector<std::string> extra) {
        std::vector<std::string> args = QuickShipperArgs(cluster_->ConnInfo(), "ndjson-dir");
        args.insert(args.end(),
                    {"--output-dir", dir_, "--snapshot", "initial", "--log-level", "info"});
        args.insert(args.end(), extra.begin(), extra.end());
        shipper_ = std::make_unique<ShipperProcess>(args, log_);
    }

    std::string PlanText() const { return ReadFileText(dir_ + "/snapshot-plan.json"); }
    json Plan() const { return json::parse(PlanText()); }
    bool PlanIs(const std::string &state) const {
        std::string text = PlanText();
        return !text.empty() && json::parse(text)["state"] == state;
    }

    // Waits for the snapshot to finish and for a marker row to arrive through WAL.
    void FinishWithMarker(int marker) {
        ASSERT_TRUE(
            WaitUntil([&] { return PlanIs("done") || !shipper_->Running(); }, seconds(240)));
        ASSERT_TRUE(PlanIs("done"));
        cluster_->Exec("INSERT INTO done VALUES (" + std::to_string(marker) + ")");
        ASSERT_TRUE(WaitUntil(
            [&] {
                for (const json &r : ReadSinkRecords(dir_))
                    if (r.value("table", "") == "done" && r["key"]["id"] == marker)
                        return true;
                return !shipper_->Running();
            },
            seconds(120)));
        ASSERT_TRUE(shipper_->Running());
    }

    // Snapshot records of every stream, then the change records, each set in file order.
    std::vector<json> SnapshotRecords() const {
        std::vector<json> all;
        for (const auto &name : SnapshotFiles(dir_))
            for (json &r : ReadLines(dir_ + "/" + name))
                all.push_back(std::move(r));
        return all;
    }

    // Merges the records of `table` by (lsn, seq), key `id`, as the warehouse does.
    std::map<int64_t, json> Replica(const std::string &table) const {
        std::vector<json> records;
        for (json &r : SnapshotRecords())
            if (r["table"] == table)
                records.push_back(std::move(r));
        for (json &r : ReadSinkRecords(dir_))
            if (r.value("table", "") == table)
                records.push_back(std::move(r));
        std::stable_sort(records.begin(), records.end(), [](const json &a, const json &b) {
            return std::make_pair(a["lsn"].get<uint64_t>(), a.value("seq", uint64_t{0})) <
                   std::make_pair(b["lsn"].get<uint64_t>(), b.value("seq", uint64_t{0}));
        });
        std::map<int64_t, json> replica;
        for (const json &r : records) {
            replica.erase(r["key"]["id"].get<int64_t>());
            if (r["op"] != "d")
                replica[r["after"]["id"].get<int64_t>()] = r["after"];
        }
        return replica;
    }

    void ExpectBigEqualsTable() {
        std::map<int64_t, std::string> replica;
        for (const auto &[id, after] : Replica("big"))
            replica[id] =
                std::to_string(after["v"].get<int64_t>()) + "|" + after["pad"].get<std::string>();
        std::map<int64_t, std::string> source;
        std::istringstream in(cluster_->Query("SELECT id, v, pad FROM big ORDER BY id"));
        std::string line;
        while (std::getline(in, line)) {
            size_t bar = line.find('|');
            source[std::stoll(line.substr(0, bar))] = line.substr(bar + 1);
        }
        EXPECT_EQ(replica.size(), source.size());
        EXPECT_TRUE(replica == source) << "the merged sink differs from table big";
    }

    // Every `r` record has lsn = consistent point - 1; every change record sorts after it.
    void ExpectSnapshotBeforeChanges() {
        uint64_t point = LsnFromText(Plan()["consistent_point"].get<std::string>());
        ASSERT_GT(point, 0u);
        for (const json &r : SnapshotRecords()) {
            ASSERT_EQ(r["op"], "r");
            ASSERT_EQ(r["lsn"].get<uint64_t>(), point - 1);
        }
        for (const json &r : ReadSinkRecords(dir_))
            ASSERT_GE(r["lsn"].get<uint64_t>(), point) << r.dump();
    }

    // Within each stream, seq strictly increases: nothing was written twice.
    void ExpectStreamsStrictlyIncreasing() {
        for (const auto &name : SnapshotFiles(dir_)) {
            std::vector<json> lines = ReadLines(dir_ + "/" + name);
            for (size_t i = 1; i < lines.size(); ++i)
                ASSERT_LT(lines[i - 1]["seq"].get<uint64_t>(), lines[i]["seq"].get<uint64_t>())
                    << name << " line " << i;
        }
    }

    std::unique_ptr<TempCluster> cluster_;
    std::unique_ptr<ShipperProcess> shipper_;
    std::string dir_;
    std::string log_;
};

TEST_F(SnapshotTest, EveryTypeIsWrittenAsThePluginWritesIt) {
    cluster_->Exec("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
    cluster_->Exec("CREATE TYPE pair AS (a int, b text)");
    const std::string columns =
        "(id int PRIMARY KEY, i2 smallint, i8 bigint, num numeric, num_big numeric(40,10), "
        "r4 real, r8 double precision, b bool, t text, vc varchar(10), ch char(5), by bytea, "
        "d date, tm time, tmtz timetz, ts timestamp, tstz timestamptz, iv interval, u uuid, "
        "js json, jsb jsonb, ia int[], ta text[], ip inet, cidr_ cidr, mac macaddr, pt point, "
        "m money, bt bit(4), vb varbit, tv tsvector, e mood, c pair, rg int4range, o oid, "
        "big_text text)";
    cluster_->Exec("CREATE TABLE types " + columns);
    cluster_->Exec("CREATE TABLE types_wal " + columns);
    cluster_->Exec(
        "INSERT INTO types VALUES (1, -32768, 9223372036854775807, 'NaN', "
        "123456789012345678901234567890.0123456789, 'Infinity', -1.5e-300, true, "
        "e'tab\\there \"quoted\" \\\\ back', 'héllo', 'ab', '\\x00ff10', '2024-02-29', "
        "'23:59:59.999999', '12:00+05:30', '1999-12-31 23:59:59', '2024-01-01 00:00:00+00', "
        "'1 year 2 mons -3 days 04:05:06', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', "
        "'{\"k\": [1, 2.50]}', '{\"b\": {\"c\": null}, \"a\": 1}', '{1,NULL,3}', "
        "'{\"x,y\",z}', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '(1.5,-2)', "
        "12.34, B'1010', B'101', 'fat cat', 'happy', ROW(7, 'seven'), '[1,10)', 42, "
        "repeat('toast me ', 20000))");
    cluster_->Exec("INSERT INTO types (id) VALUES (2)");  // every other column NULL
    cluster_->Exec(
        "INSERT INTO types (id, num, r8, t, tstz, ia) VALUES (3, -0.000001, 'NaN', '', "
        "'infinity', '{}')");

    StartShipper({"--snapshot-parallelism", "2"});
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(1));
    // The same rows again, now written by the plugin from WAL.
    cluster_->Exec("INSERT INTO types_wal SELECT * FROM types");
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(2));

    std::map<int64_t, json> snapshot = Replica("types");
    std::map<int64_t, json> wal = Replica("types_wal");
    ASSERT_EQ(snapshot.size(), 3u);
    ASSERT_EQ(wal.size(), 3u);
    for (const auto &[id, after] : snapshot)
        EXPECT_EQ(after.dump(), wal[id].dump()) << "row " << id;
    ExpectSnapshotBeforeChanges();
}

TEST_F(SnapshotTest, WritesDuringTheSnapshotAreNeitherLostNorDuplicated) {
    cluster_->Exec("CREATE TABLE big (id int PRIMARY KEY, v bigint, pad text)");
    cluster_->Exec(
        "INSERT INTO big SELECT g, g, repeat('p', 100) FROM generate_series(1, 60000) g");
    cluster_->Exec("CREATE TABLE empty_one (id int PRIMARY KEY)");
    LoadWriter writer(cluster_->ConnInfo(), 7,
                      BigTableChanges(60000, 30001));  // ids 1..30000 stay untouched
    ASSERT_TRUE(WaitUntil([&] { return writer.Commits() > 20; }));
    int metrics_port = FreeLoopbackPort();
    StartShipper({"--snapshot-range-blocks", "200", "--snapshot-parallelism", "2",
                  "--snapshot-commit-bytes", "256kB", "--metrics-port",
                  std::to_string(metrics_port)});
    ASSERT_TRUE(WaitUntil([&] { return PlanIs("done") || !shipper_->Running(); }, seconds(240)));
    uint64_t at_done = writer.Commits();
    // Keep writing after the snapshot, into the WAL stream.
    ASSERT_TRUE(WaitUntil([&] { return writer.Commits() > at_done + 50; }));
    writer.Stop();
    ASSERT_EQ(writer.Error(), "");
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(1));

    json plan = Plan();
    EXPECT_GT(plan["ranges"].size(), 2u);  // big is split; empty_one and done have a range
    // Progress metrics: every range done, every record counted, per table too.
    auto metrics = httplib::Client("127.0.0.1", metrics_port).Get("/metrics");
    ASSERT_TRUE(metrics && metrics->status == 200);
    size_t big_records = 0;
    for (const json &r : SnapshotRecords())
        big_records += r["table"] == "big";
    EXPECT_EQ(MetricValue(metrics->body, "snowcdc_snapshot_ranges_total"),
              static_cast<double>(plan["ranges"].size()));
    EXPECT_EQ(MetricValue(metrics->body, "snowcdc_snapshot_ranges_done"),
              static_cast<double>(plan["ranges"].size()));
    EXPECT_EQ(MetricValue(metrics->body, "snowcdc_snapshot_records_total"),
              static_cast<double>(SnapshotRecords().size()));
    EXPECT_EQ(MetricValue(metrics->body, "snowcdc_snapshot_table_records_total{table=\"big\"}"),
              static_cast<double>(big_records));
    EXPECT_GT(MetricValue(metrics->body, "snowcdc_snapshot_bytes_total"), 0);
    std::map<int64_t, int> reads;
    for (const json &r : SnapshotRecords())
        if (r["table"] == "big")
            ++reads[r["key"]["id"].get<int64_t>()];
    for (int64_t id = 1; id <= 30000; ++id)
        ASSERT_EQ(reads[id], 1) << "untouched row " << id;
    for (const auto &[id, n] : reads)
        ASSERT_EQ(n, 1) << "row " << id << " read twice under one snapshot";
    size_t changes = 0;
    for (const json &r : ReadSinkRecords(dir_))
        changes += r.value("table", "") == "big";
    EXPECT_GT(changes, 50u);
    ExpectSnapshotBeforeChanges();
    ExpectStreamsStrictlyIncreasing();
    ExpectBigEqualsTable();
}

TEST_F(SnapshotTest, SigtermAndKillNineMidSnapshotResumeEachRange) {
    cluster_->Exec("CREATE TABLE big (id int PRIMARY KEY, v bigint, pad text)");
    cluster_->Exec(
        "INSERT INTO big SELECT g, g, repeat('p', 200) FROM generate_series(1, 150000) g");
    LoadWriter writer(cluster_->ConnInfo(), 7,
                      BigTableChanges(150000, 100001));  // ids 1..100000 stay untouched
    std::vector<std::string> options = {"--snapshot-range-blocks", "1000",
                                        "--snapshot-parallelism",  "2",
                                        "--snapshot-commit-bytes", "128kB"};
    // SIGTERM mid-snapshot: stops at the next commit, exits 0, the plan stays unfinished.
    StartShipper(options);
    ASSERT_TRUE(WaitUntil([&] { return SnapshotSize(dir_) > (1u << 20) || !shipper_->Running(); },
                          seconds(120)));
    shipper_->Signal(SIGTERM);
    EXPECT_EQ(shipper_->WaitExit(), 0);
    ASSERT_TRUE(PlanIs("reading")) << "the snapshot ended before SIGTERM: make big larger";
    uint64_t stopped_at = SnapshotSize(dir_);
    // kill -9 mid-snapshot, after the resumed run wrote some more.
    StartShipper(options);
    ASSERT_TRUE(WaitUntil(
        [&] { return SnapshotSize(dir_) > stopped_at + (1u << 20) || !shipper_->Running(); },
        seconds(120)));
    shipper_->Signal(SIGKILL);
    shipper_->WaitExit();
    ASSERT_TRUE(PlanIs("reading")) << "the snapshot ended before the kill: make big larger";
    uint64_t before = SnapshotSize(dir_);

    StartShipper(options);
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(1));
    writer.Stop();
    ASSERT_EQ(writer.Error(), "");
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(2));
    EXPECT_NE(ReadFileText(log_).find("resumes after what the sink holds"), std::string::npos);
    EXPECT_GT(SnapshotSize(dir_), before);

    std::map<int64_t, int> reads;
    for (const json &r : SnapshotRecords())
        if (r["table"] == "big")
            ++reads[r["key"]["id"].get<int64_t>()];
    for (int64_t id = 1; id <= 100000; ++id)
        ASSERT_EQ(reads[id], 1) << "untouched row " << id << " lost or sent twice";
    ExpectSnapshotBeforeChanges();
    ExpectStreamsStrictlyIncreasing();
    ExpectBigEqualsTable();
}

// A rewrite between the crash and the resume (rows move to other ctids) must not make the
// resumed ranges skip rows: the table is read again from the start into new streams.
TEST_F(SnapshotTest, VacuumFullBetweenKillAndResumeRereadsTheTable) {
    cluster_->Exec("CREATE TABLE big (id int PRIMARY KEY, v bigint, pad text)");
    cluster_->Exec(
        "INSERT INTO big SELECT g, g, repeat('p', 200) FROM generate_series(1, 150000) g");
    std::vector<std::string> options = {"--snapshot-range-blocks", "1000",
                                        "--snapshot-parallelism",  "1",
                                        "--snapshot-commit-bytes", "128kB"};
    StartShipper(options);
    ASSERT_TRUE(WaitUntil([&] { return SnapshotSize(dir_) > (2u << 20) || !shipper_->Running(); },
                          seconds(120)));
    shipper_->Signal(SIGKILL);
    shipper_->WaitExit();
    ASSERT_TRUE(PlanIs("reading")) << "the snapshot ended before the kill: make big larger";
    json before = Plan();
    // The first rows go, the rest move down to lower blocks: "after ctid" would skip them.
    cluster_->Exec("DELETE FROM big WHERE id <= 40000");
    cluster_->Exec("VACUUM FULL big");

    StartShipper(options);
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(1));
    EXPECT_NE(ReadFileText(log_).find("table rewritten (VACUUM FULL, CLUSTER or TRUNCATE)"),
              std::string::npos);
    json after = Plan();
    int rereads = 0;
    for (const json &r : after["ranges"]) {
        if (r["table"] != "big")
            continue;
        EXPECT_EQ(r["generation"], 1);
        EXPECT_NE(r["relfilenode"], before["ranges"][0]["relfilenode"]);
        ++rereads;
    }
    EXPECT_GT(rereads, 0);
    EXPECT_EQ(after["retired_streams"].size(), before["ranges"].size() - 1);  // all but done's
    ExpectSnapshotBeforeChanges();
    ExpectStreamsStrictlyIncreasing();
    ExpectBigEqualsTable();  // every row of the table is in the merged sink
    std::map<int64_t, int> reads;
    for (const json &r : SnapshotRecords())
        if (r["table"] == "big")
            ++reads[r["key"]["id"].get<int64_t>()];
    for (int64_t id = 40001; id <= 150000; ++id)
        ASSERT_GE(reads[id], 1) << "row " << id << " missing from the snapshot";
}

// Tables of the default selection: the plugin's exclude-tables filter applies; tables whose
// rows cannot be applied by key are skipped with a warning naming the fix; a partitioned
// table is read through its leaves.
TEST_F(SnapshotTest, DefaultSelectionFollowsThePluginFilterAndSkipsKeylessTables) {
    cluster_->Exec("CREATE TABLE keyed (id int PRIMARY KEY, v text)");
    cluster_->Exec("CREATE TABLE excluded (id int PRIMARY KEY, v text)");
    cluster_->Exec("CREATE TABLE excluded_too (id int PRIMARY KEY, v text)");
    cluster_->Exec("CREATE TABLE nokey (id int, v text)");
    cluster_->Exec("CREATE TABLE nothing_id (id int PRIMARY KEY, v text)");
    cluster_->Exec("ALTER TABLE nothing_id REPLICA IDENTITY NOTHING");
    cluster_->Exec("CREATE TABLE full_id (id int, v text)");
    cluster_->Exec("ALTER TABLE full_id REPLICA IDENTITY FULL");
    cluster_->Exec(
        "CREATE TABLE meas (id int, at int, v text, PRIMARY KEY (id, at)) "
        "PARTITION BY RANGE (at)");
    cluster_->Exec("CREATE TABLE meas_1 PARTITION OF meas FOR VALUES FROM (0) TO (100)");
    cluster_->Exec("CREATE TABLE meas_2 PARTITION OF meas FOR VALUES FROM (100) TO (200)");
    for (const char *t : {"keyed", "excluded", "excluded_too", "nokey", "nothing_id", "full_id"})
        cluster_->Exec(std::string("INSERT INTO ") + t +
                       " SELECT g, 'v' || g FROM generate_series(1, 20) g");
    cluster_->Exec("INSERT INTO meas SELECT g, g * 10, 'm' FROM generate_series(1, 19) g");
    // A list value in quotes, and a message filter the shipper widens to its own messages.
    StartShipper({"--plugin-options",
                  "exclude-tables='public.excluded, public.excluded_too',message-prefixes=app"});
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(1));
    std::map<std::string, int> rows;
    for (const json &r : SnapshotRecords())
        ++rows[r["table"].get<std::string>()];
    EXPECT_EQ(rows, (std::map<std::string, int>{
                        {"full_id", 20}, {"keyed", 20}, {"meas_1", 9}, {"meas_2", 10}}));
    std::string log = ReadFileText(log_);
    EXPECT_NE(log.find("ALTER TABLE nokey ADD PRIMARY KEY"), std::string::npos);
    EXPECT_NE(log.find("ALTER TABLE nothing_id REPLICA IDENTITY DEFAULT"), std::string::npos);
    EXPECT_EQ(log.find("ALTER TABLE excluded"), std::string::npos);
    // Changes to the excluded tables are not streamed either.
    cluster_->Exec("INSERT INTO excluded_too VALUES (100, 'x')");
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(2));
    for (const json &r : ReadSinkRecords(dir_))
        EXPECT_NE(r.value("table", ""), "excluded_too") << r.dump();
}

// Tables named in snapshot_tables are read even without a key (with a warning); naming a
// partitioned table reads its leaves.
TEST_F(SnapshotTest, NamedKeylessTablesAndPartitionedParentsAreRead) {
    cluster_->Exec("CREATE TABLE nokey (id int, v text)");
    cluster_->Exec("CREATE TABLE other (id int PRIMARY KEY)");
    cluster_->Exec(
        "CREATE TABLE meas (id int, at int, PRIMARY KEY (id, at)) "
        "PARTITION BY RANGE (at)");
    cluster_->Exec("CREATE TABLE meas_1 PARTITION OF meas FOR VALUES FROM (0) TO (100)");
    cluster_->Exec("CREATE TABLE meas_2 PARTITION OF meas FOR VALUES FROM (100) TO (200)");
    cluster_->Exec("INSERT INTO nokey SELECT g, 'v' FROM generate_series(1, 5) g");
    cluster_->Exec("INSERT INTO other SELECT g FROM generate_series(1, 5) g");
    cluster_->Exec("INSERT INTO meas SELECT g, g * 10 FROM generate_series(1, 19) g");
    StartShipper({"--snapshot-tables", "public.nokey, meas, public.done"});
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(1));
    std::map<std::string, int> rows;
    for (const json &r : SnapshotRecords())
        ++rows[r["table"].get<std::string>()];
    EXPECT_EQ(rows, (std::map<std::string, int>{{"meas_1", 9}, {"meas_2", 10}, {"nokey", 5}}));
    EXPECT_NE(ReadFileText(log_).find("snapshot reads a table without a key"), std::string::npos);
}

// A finished snapshot whose slot was dropped: a new slot would stream from now on and the
// changes in between would be missing, so the shipper stops and names the fix.
TEST_F(SnapshotTest, FinishedSnapshotWithItsSlotDroppedStopsWithTheFix) {
    StartShipper({});
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(1));
    shipper_->Signal(SIGTERM);
    ASSERT_EQ(shipper_->WaitExit(), 0);
    cluster_->Exec("SELECT pg_drop_replication_slot('s1')");
    StartShipper({});
    EXPECT_NE(shipper_->WaitExit(), 0);
    EXPECT_NE(ReadFileText(log_).find("does not exist, but the sink holds a finished initial "
                                      "snapshot"),
              std::string::npos);
    EXPECT_EQ(cluster_->Query("SELECT count(*) FROM pg_replication_slots"), "0");
}

// On a terminal the snapshot shows a progress line (rewritten in place with \r).
TEST_F(SnapshotTest, ProgressLineOnATerminal) {
    cluster_->Exec("CREATE TABLE items (id int PRIMARY KEY, v text)");
    cluster_->Exec("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 20000) g");
    std::vector<std::string> args = QuickShipperArgs(cluster_->ConnInfo(), "ndjson-dir");
    args.insert(args.begin(), "run");
    args.insert(args.end(),
                {"--output-dir", dir_, "--snapshot", "initial", "--snapshot-range-blocks", "20"});
    std::vector<char *> argv;
    std::string binary = SNOWCDC_SHIPPER_BINARY;
    argv.push_back(binary.data());
    for (std::string &a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    int terminal = -1;
    pid_t pid = forkpty(&terminal, nullptr, nullptr, nullptr);
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execv(binary.c_str(), argv.data());
        _exit(127);
    }
    std::string output;
    std::thread reader([&] {
        char buf[4096];
        ssize_t n;
        while ((n = read(terminal, buf, sizeof buf)) > 0)
            output.append(buf, static_cast<size_t>(n));  // ends with EIO when the child exits
    });
    bool done = WaitUntil([&] { return PlanIs("done"); }, seconds(120));
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    reader.join();
    close(terminal);
    ASSERT_TRUE(done) << output;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
    size_t total = Plan()["ranges"].size();
    EXPECT_NE(output.find("\rsnapshot: "), std::string::npos) << output;
    EXPECT_NE(output.find(" ranges, "), std::string::npos) << output;
    EXPECT_NE(output.find("/" + std::to_string(total) + " ranges"), std::string::npos) << output;
}

// snapshot_tables picks tables; a finished snapshot is not taken again on restart; a table
// created later arrives through WAL like any change.
TEST_F(SnapshotTest, SelectedTablesOnceThenALaterTableByWal) {
    cluster_->Exec("CREATE TABLE picked (id int PRIMARY KEY, v text)");
    cluster_->Exec("CREATE TABLE skipped (id int PRIMARY KEY, v text)");
    cluster_->Exec("INSERT INTO picked SELECT g, 'p' || g FROM generate_series(1, 500) g");
    cluster_->Exec("INSERT INTO skipped SELECT g, 's' || g FROM generate_series(1, 500) g");
    StartShipper({"--snapshot-tables", "public.pick*, public.done"});
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(1));
    std::set<std::string> tables;
    for (const json &r : SnapshotRecords())
        tables.insert(r["table"].get<std::string>());
    EXPECT_EQ(tables, std::set<std::string>{"picked"});
    EXPECT_EQ(Replica("picked").size(), 500u);
    size_t snapshot_records = SnapshotRecords().size();

    shipper_->Signal(SIGTERM);
    ASSERT_EQ(shipper_->WaitExit(), 0);
    cluster_->Exec("CREATE TABLE later (id int PRIMARY KEY, v text)");
    cluster_->Exec("INSERT INTO later SELECT g, 'l' || g FROM generate_series(1, 50) g");
    cluster_->Exec("UPDATE picked SET v = 'changed' WHERE id <= 10");
    StartShipper({"--snapshot-tables", "public.pick*, public.done"});
    ASSERT_NO_FATAL_FAILURE(FinishWithMarker(2));
    EXPECT_EQ(SnapshotRecords().size(), snapshot_records) << "the snapshot was taken again";
    EXPECT_EQ(Replica("later").size(), 50u);
    std::map<int64_t, json> picked = Replica("picked");
    ASSERT_EQ(picked.size(), 500u);
    EXPECT_EQ(picked[10]["v"], "changed");
    EXPECT_EQ(picked[11]["v"], "p11");
    EXPECT_TRUE(Replica("skipped").empty());
}

}  // namespace
}  // namespace snowcdc::testing
