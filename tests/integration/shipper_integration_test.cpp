// End-to-end tests: the real snowcdc-shipper binary streams a TempCluster through the
// snowcdc plugin into the ndjson-dir sink. They check that a mixed workload (with a
// transaction larger than the in-flight bound) arrives complete and in order; that kill -9
// at random points neither loses nor duplicates and the slot never confirms past what the
// sink made durable; that a Postgres restart mid-stream is survived; that an idle database
// never trips wal_sender_timeout; and that SIGTERM drains and exits 0.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "pg_cluster.hpp"
#include "shipper_harness.hpp"

namespace snowcdc::testing {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class ShipperIntegrationTest : public ::testing::Test {
  protected:
    void StartCluster(std::vector<std::string> extra_conf = {}) {
        ClusterOptions options;
        options.extra_conf = std::move(extra_conf);
        cluster_ = std::make_unique<TempCluster>(options);
        cluster_->Exec("CREATE TABLE acct (id int PRIMARY KEY, balance bigint, note text)");
        cluster_->Exec("CREATE TABLE done (id int PRIMARY KEY)");
        dir_ = MakeTempDir("snowcdc-it-sink");
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

    void StartShipper(std::vector<std::string> extra = {}) {
        std::vector<std::string> args = QuickShipperArgs(cluster_->ConnInfo(), "ndjson-dir");
        args.insert(args.end(),
                    {"--output-dir", dir_, "--heartbeat-interval", "1s", "--log-level", "info"});
        args.insert(args.end(), extra.begin(), extra.end());
        shipper_ = std::make_unique<ShipperProcess>(args, log_);
        // Changes committed before the slot reached its consistent point are not in the
        // stream; wait for it (created by the shipper, or already there).
        ASSERT_TRUE(WaitUntil([&] {
            return cluster_->Query(
                       "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                       "'s1' AND confirmed_flush_lsn IS NOT NULL") == "1" ||
                   !shipper_->Running();
        }));
    }

    uint64_t Confirmed() const {
        return LsnFromText(cluster_->Query(
            "SELECT coalesce(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots "
            "WHERE slot_name = 's1'"));
    }

    // Waits until the marker row's record is in the sink and the slot confirms past it.
    void WaitForMarker(int marker) {
        uint64_t marker_lsn = 0;
        ASSERT_TRUE(WaitUntil(
            [&] {
                for (const json &r : ReadSinkRecords(dir_))
                    if (r.value("table", "") == "done" && r["key"]["id"] == marker)
                        marker_lsn = r["lsn"];
                return marker_lsn != 0 && Confirmed() > marker_lsn;
            },
            seconds(120)))
            << "marker " << marker << " lsn " << marker_lsn << " confirmed " << Confirmed();
    }

    // (lsn, seq) strictly increases over the whole sink: in order, nothing twice.
    static void ExpectStrictlyOrdered(const std::vector<json> &records) {
        for (size_t i = 1; i < records.size(); ++i) {
            auto prev = std::make_pair(records[i - 1]["lsn"].get<uint64_t>(),
                                       records[i - 1].value("seq", 0u));
            auto cur =
                std::make_pair(records[i]["lsn"].get<uint64_t>(), records[i].value("seq", 0u));
            ASSERT_LT(prev, cur) << "record " << i << ": " << records[i].dump();
        }
    }

    // Applies the acct records in order and compares with the source table.
    void ExpectSameAsSource(const std::vector<json> &records) {
        std::map<int, std::string> replica;
        for (const json &r : records) {
            if (r.value("table", "") != "acct")
                continue;
            // An update that changes the key carries the old key and the new row.
            replica.erase(r["key"]["id"].get<int>());
            if (r["op"] != "d")
                replica[r["after"]["id"].get<int>()] =
                    std::to_string(r["after"]["balance"].get<int64_t>()) + "|" +
                    r["after"]["note"].get<std::string>();
        }
        std::map<int, std::string> source;
        std::string rows = cluster_->Query("SELECT id, balance, note FROM acct ORDER BY id");
        std::istringstream in(rows);
        std::string line;
        while (std::getline(in, line)) {
            size_t bar = line.find('|');
            source[std::stoi(line.substr(0, bar))] = line.substr(bar + 1);
        }
        EXPECT_EQ(replica.size(), source.size());
        EXPECT_TRUE(replica == source) << "sink replica differs from the source table";
    }

    // xid -> (commit end LSN, number of row changes), from a test_decoding slot.
    std::map<uint64_t, std::pair<uint64_t, int>> Audit() const {
        std::map<uint64_t, std::pair<uint64_t, int>> audit;
        std::string rows = cluster_->Query(
            "SELECT lsn, xid, left(data, 6) FROM pg_logical_slot_peek_changes('audit', NULL, "
            "NULL) WHERE data LIKE 'COMMIT%' OR data LIKE 'table public.acct:%'");
        std::istringstream in(rows);
        std::string line;
        while (std::getline(in, line)) {
            std::vector<std::string> f;
            std::istringstream fields(line);
            std::string part;
            while (std::getline(fields, part, '|'))
                f.push_back(part);
            auto &entry = audit[std::stoull(f[1])];
            if (f[2] == "COMMIT")
                entry.first = LsnFromText(f[0]);
            else
                ++entry.second;
        }
        return audit;
    }

    // Every transaction whose commit the slot confirmed is wholly in the sink.
    // Returns how many confirmed transactions it checked.
    int ExpectConfirmedIsDurable(uint64_t confirmed) {
        std::map<uint64_t, int> in_sink;
        for (const json &r : ReadSinkRecords(dir_))
            if (r.value("table", "") == "acct")
                ++in_sink[r["xid"].get<uint64_t>()];
        int checked = 0;
        for (const auto &[xid, entry] : Audit()) {
            if (entry.first == 0 || entry.first > confirmed)
                continue;
            ++checked;
            EXPECT_EQ(in_sink[xid], entry.second)
                << "xid " << xid << " was confirmed (end " << entry.first << " <= " << confirmed
                << ") but the sink holds " << in_sink[xid] << " of its " << entry.second
                << " changes";
        }
        return checked;
    }

    // Small transactions (inserts, an update, now and then a delete) until `stop`.
    void RunWorkload(const std::atomic<bool> &stop, std::atomic<int> &txns) {
        for (int i = 1; !stop; ++i) {
            int base = i * 10;
            int rows = 1 + i % 7;
            cluster_->Exec("BEGIN; INSERT INTO acct SELECT g, " + std::to_string(i) +
                           ", 'w' FROM generate_series(" + std::to_string(base) + ", " +
                           std::to_string(base + rows - 1) +
                           ") g; UPDATE acct SET balance = balance + 1 WHERE id = " +
                           std::to_string(base - 10) + "; COMMIT");
            if (i % 5 == 0)
                cluster_->Exec("DELETE FROM acct WHERE id = " + std::to_string(base - 40));
            txns = i;
        }
    }

    std::unique_ptr<TempCluster> cluster_;
    std::unique_ptr<ShipperProcess> shipper_;
    std::string dir_;
    std::string log_;
};

TEST_F(ShipperIntegrationTest, MixedWorkloadArrivesCompleteAndInOrder) {
    StartCluster();
    int metrics_port = FreeLoopbackPort();
    StartShipper({"--max-in-flight-bytes", "256kB", "--batch-max-bytes", "32kB",
                  "--file-rotate-bytes", "512kB", "--metrics-port", std::to_string(metrics_port)});
    for (int i = 0; i < 40; ++i)
        cluster_->Exec("INSERT INTO acct VALUES (" + std::to_string(i) + ", " +
                       std::to_string(i * 10) + ", 'single')");
    cluster_->Exec(
        "BEGIN; INSERT INTO acct VALUES (1000, 1, 'multi'); UPDATE acct SET balance = balance + 1 "
        "WHERE id < 10; DELETE FROM acct WHERE id BETWEEN 20 AND 24; COMMIT");
    // Larger than max_in_flight_bytes several times over: must stream through in chunks.
    cluster_->Exec(
        "INSERT INTO acct SELECT g, g, repeat('x', 200) FROM generate_series(2000, "
        "31999) g");
    cluster_->Exec("BEGIN; INSERT INTO acct VALUES (99999, 0, 'rolled back'); ROLLBACK");
    cluster_->Exec("UPDATE acct SET note = 'updated', balance = -balance WHERE id % 3 = 0");
    cluster_->Exec("DELETE FROM acct WHERE id % 7 = 0");
    cluster_->Exec("UPDATE acct SET id = id + 100000 WHERE id BETWEEN 30 AND 35");
    cluster_->Exec("SELECT pg_logical_emit_message(true, 'app', 'hello')");
    cluster_->Exec("SELECT pg_logical_emit_message(false, 'snowcdc.internal', 'not forwarded')");
    cluster_->Exec("INSERT INTO done VALUES (1)");
    WaitForMarker(1);

    std::vector<json> records = ReadSinkRecords(dir_);
    ExpectStrictlyOrdered(records);
    ExpectSameAsSource(records);
    int app_messages = 0;
    for (const json &r : records) {
        EXPECT_NE(r["op"], "begin");
        EXPECT_NE(r["op"], "commit");
        if (r["op"] == "m") {
            EXPECT_EQ(r["prefix"], "app");
            ++app_messages;
        }
    }
    EXPECT_EQ(app_messages, 1);
    EXPECT_NE(RunShell("ls " + dir_ + " | wc -l | grep -qx 1"), 0) << "expected rotated files";

    httplib::Client client("127.0.0.1", metrics_port);
    auto health = client.Get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    auto metrics = client.Get("/metrics");
    ASSERT_TRUE(metrics);
    std::string forwarded = "snowcdc_records_total " + std::to_string(records.size()) + "\n";
    EXPECT_NE(metrics->body.find(forwarded), std::string::npos) << metrics->body;
    EXPECT_NE(metrics->body.find("snowcdc_commit_to_durable_seconds_count"), std::string::npos);
    EXPECT_EQ(metrics->body.find("snowcdc_commit_to_durable_seconds_count 0\n"), std::string::npos);

    shipper_->Signal(SIGTERM);
    EXPECT_EQ(shipper_->WaitExit(), 0);
    // The drain confirmed its final position to Postgres before exiting.
    std::string stopped_lsn;
    std::istringstream log(ReadFileText(log_));
    for (std::string line; std::getline(log, line);) {
        json j = json::parse(line);
        if (j["msg"] == "stopped")
            stopped_lsn = j["confirmed_lsn"];
    }
    ASSERT_FALSE(stopped_lsn.empty());
    EXPECT_EQ(Confirmed(), LsnFromText(stopped_lsn));
}

TEST_F(ShipperIntegrationTest, KillNineAtRandomPointsNeitherLosesNorDuplicates) {
    StartCluster();
    // Both slots exist before the workload, so both see exactly the same transactions.
    cluster_->Exec("SELECT pg_create_logical_replication_slot('s1', 'snowcdc')");
    cluster_->Exec("SELECT pg_create_logical_replication_slot('audit', 'test_decoding')");
    std::atomic<bool> stop{false};
    std::atomic<int> txns{0};
    std::string workload_error;
    std::thread workload([&] {
        try {
            RunWorkload(stop, txns);
        } catch (const std::exception &e) {
            workload_error = e.what();
        }
    });
    unsigned seed = std::random_device{}();
    std::mt19937 random(seed);
    SCOPED_TRACE("random seed " + std::to_string(seed));
    size_t seen = 0;
    int checked = 0;
    for (int round = 0; round < 8; ++round) {
        StartShipper();
        // Wait for the shipper to make progress, then kill it at a random moment.
        ASSERT_TRUE(WaitUntil([&] { return ReadSinkRecords(dir_).size() > seen; }, seconds(60)));
        std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<>(0, 400)(random)));
        shipper_->Signal(SIGKILL);
        EXPECT_EQ(shipper_->WaitExit(), 128 + SIGKILL);
        std::vector<json> records = ReadSinkRecords(dir_);
        seen = records.size();
        ExpectStrictlyOrdered(records);
        checked += ExpectConfirmedIsDurable(Confirmed());
    }
    EXPECT_GT(checked, 0) << "no kill happened after a confirmation";
    stop = true;
    workload.join();
    ASSERT_EQ(workload_error, "");
    // Later starts found the sink's position in its files (the replay-skip path ran).
    EXPECT_NE(ReadFileText(log_).find("\"holds_lsn\":\"0/"), std::string::npos);
    cluster_->Exec("INSERT INTO done VALUES (2)");
    StartShipper();
    WaitForMarker(2);
    shipper_->Signal(SIGTERM);
    EXPECT_EQ(shipper_->WaitExit(), 0);

    std::vector<json> records = ReadSinkRecords(dir_);
    ExpectStrictlyOrdered(records);
    ExpectSameAsSource(records);
    std::map<uint64_t, int> in_sink;
    for (const json &r : records)
        if (r.value("table", "") == "acct")
            ++in_sink[r["xid"].get<uint64_t>()];
    for (const auto &[xid, entry] : Audit())
        EXPECT_EQ(in_sink[xid], entry.second) << "xid " << xid;
    EXPECT_GT(txns.load(), 5);
    cluster_->Exec("SELECT pg_drop_replication_slot('audit')");
}

TEST_F(ShipperIntegrationTest, SurvivesPostgresRestartMidStream) {
    StartCluster();
    StartShipper();
    cluster_->Exec("INSERT INTO acct SELECT g, g, 'before' FROM generate_series(1, 2000) g");
    ASSERT_TRUE(WaitUntil([&] { return !ReadSinkRecords(dir_).empty(); }, seconds(60)));
    cluster_->Exec("INSERT INTO acct SELECT g, g, 'big' FROM generate_series(10001, 60000) g");
    cluster_->Restart("immediate");  // the slot forgets its unsaved position: a replay follows
    cluster_->Exec("UPDATE acct SET note = 'after' WHERE id % 2 = 0");
    cluster_->Restart("fast");
    cluster_->Exec("DELETE FROM acct WHERE id % 5 = 0");
    cluster_->Exec("INSERT INTO done VALUES (3)");
    WaitForMarker(3);
    std::vector<json> records = ReadSinkRecords(dir_);
    ExpectStrictlyOrdered(records);
    ExpectSameAsSource(records);
    EXPECT_NE(ReadFileText(log_).find("reconnecting to Postgres"), std::string::npos);
    shipper_->Signal(SIGTERM);
    EXPECT_EQ(shipper_->WaitExit(), 0);
}

TEST_F(ShipperIntegrationTest, IdleDatabaseNeverTripsWalSenderTimeout) {
    StartCluster({"wal_sender_timeout = '2s'"});
    int metrics_port = FreeLoopbackPort();
    StartShipper({"--status-interval", "250ms", "--metrics-port", std::to_string(metrics_port)});
    cluster_->Exec("INSERT INTO done VALUES (4)");
    WaitForMarker(4);
    std::string walsender =
        "SELECT pid, backend_start FROM pg_stat_replication WHERE application_name = "
        "'snowcdc-shipper'";
    std::string before = cluster_->Query(walsender);
    ASSERT_FALSE(before.empty());
    uint64_t idle_start = LsnFromText(cluster_->Query("SELECT pg_current_wal_lsn()"));
    // Idle for several wal_sender_timeouts; heartbeats (every 1s) must move the slot on.
    auto idle_until = std::chrono::steady_clock::now() + seconds(7);
    bool advanced = false;
    while (std::chrono::steady_clock::now() < idle_until) {
        advanced = advanced || Confirmed() > idle_start;
        EXPECT_TRUE(shipper_->Running());
        std::this_thread::sleep_for(milliseconds(250));
    }
    EXPECT_EQ(cluster_->Query(walsender), before) << "the walsender connection was replaced";
    EXPECT_TRUE(advanced) << "heartbeats did not advance the idle slot";
    std::string log = ReadFileText(log_);
    EXPECT_EQ(log.find("reconnecting"), std::string::npos) << log;
    EXPECT_EQ(log.find("heartbeat failed"), std::string::npos) << log;
    auto metrics = httplib::Client("127.0.0.1", metrics_port).Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->body.find("snowcdc_heartbeats_total 0\n"), std::string::npos);
    EXPECT_NE(metrics->body.find("snowcdc_heartbeats_total "), std::string::npos);
    for (const json &r : ReadSinkRecords(dir_))
        EXPECT_NE(r["op"], "m") << "heartbeat messages must not reach the sink: " << r.dump();
    shipper_->Signal(SIGTERM);
    EXPECT_EQ(shipper_->WaitExit(), 0);
}

// WAL of other databases yields no records; the slot must still advance (without heartbeats
// and without timeout keepalives) so that Postgres can recycle that WAL: the keepalive the
// walsender sends when it waits for WAL carries its send position, which the shipper confirms
// once everything before it is durable.
TEST_F(ShipperIntegrationTest, IdleSlotAdvancesPastWalOfOtherDatabases) {
    StartCluster({"wal_sender_timeout = 0"});
    cluster_->Exec("CREATE DATABASE other");
    StartShipper({"--heartbeat-interval", "0"});
    cluster_->Exec("CREATE TABLE elsewhere (id int)", "other");
    cluster_->Exec("INSERT INTO elsewhere SELECT generate_series(1, 1000)", "other");
    uint64_t target = LsnFromText(cluster_->Query("SELECT pg_current_wal_lsn()"));
    EXPECT_TRUE(WaitUntil([&] { return Confirmed() >= target; }))
        << "confirmed " << Confirmed() << " target " << target;
    EXPECT_TRUE(ReadSinkRecords(dir_).empty());
    shipper_->Signal(SIGTERM);
    EXPECT_EQ(shipper_->WaitExit(), 0);
}

TEST_F(ShipperIntegrationTest, SighupReloadsGoodSettingsAndKeepsOldOnBadOnes) {
    StartCluster();
    std::string config = dir_ + ".toml";
    // Settings the command line does not set, since the command line takes precedence.
    std::ofstream(config) << "file_rotate_bytes = \"1MB\"\n";
    StartShipper({"--config", config});
    cluster_->Exec("INSERT INTO done VALUES (5)");
    WaitForMarker(5);
    std::ofstream(config) << "file_rotate_bytes = \"lots\"\n";
    shipper_->Signal(SIGHUP);
    ASSERT_TRUE(WaitUntil(
        [&] { return ReadFileText(log_).find("keeping the old settings") != std::string::npos; }));
    EXPECT_NE(ReadFileText(log_).find("'lots' from file"), std::string::npos);
    std::ofstream(config) << "file_rotate_bytes = \"2MB\"\nplugin_options = \"before=on\"\n";
    shipper_->Signal(SIGHUP);
    ASSERT_TRUE(WaitUntil(
        [&] { return ReadFileText(log_).find("settings reloaded") != std::string::npos; }));
    EXPECT_NE(ReadFileText(log_).find("only take effect after a restart"), std::string::npos);
    cluster_->Exec("INSERT INTO done VALUES (6)");
    WaitForMarker(6);  // still streaming from s1 with the reloaded settings
    shipper_->Signal(SIGTERM);
    EXPECT_EQ(shipper_->WaitExit(), 0);
    RunShell("rm -f " + config);
}

// Peak resident memory of a process, in kB (VmHWM).
long PeakRssKb(pid_t pid) {
    std::istringstream in(ReadFileText("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0)
            return std::stol(line.substr(6));
    return -1;
}

TEST_F(ShipperIntegrationTest, LargeTransactionStreamsThroughWithinTheMemoryBound) {
    StartCluster();
    StartShipper({"--max-in-flight-bytes", "1MB", "--batch-max-bytes", "256kB"});
    // About 60 MB of records in one transaction, sixty times the in-flight bound.
    cluster_->Exec(
        "INSERT INTO acct SELECT g, g, repeat('y', 400) FROM generate_series(1, "
        "120000) g");
    cluster_->Exec("INSERT INTO done VALUES (7)");
    WaitForMarker(7);
    long peak_kb = PeakRssKb(shipper_->Pid());
    EXPECT_GT(peak_kb, 0);
    std::printf("shipper peak RSS: %ld kB\n", peak_kb);
    EXPECT_LT(peak_kb, 40 * 1024) << "the shipper held the transaction in memory";
    size_t rows = 0;
    for (const json &r : ReadSinkRecords(dir_))
        rows += r.value("table", "") == "acct";
    EXPECT_EQ(rows, 120000u);
    shipper_->Signal(SIGTERM);
    EXPECT_EQ(shipper_->WaitExit(), 0);
}

TEST_F(ShipperIntegrationTest, CheckAndStatusCommands) {
    StartCluster();
    std::string common = std::string(SNOWCDC_SHIPPER_BINARY) + " --conninfo '" +
                         cluster_->ConnInfo() + "' --slot s1 --sink ndjson-dir ";
    std::string out;
    EXPECT_EQ(RunShell(common + "--output-dir " + dir_ + " check", &out), 0) << out;
    EXPECT_NE(out.find("ok    replication"), std::string::npos) << out;
    EXPECT_NE(out.find("s1 will be created"), std::string::npos) << out;
    EXPECT_EQ(RunShell(common + "--output-dir " + dir_ + "/missing check", &out), 1) << out;
    EXPECT_NE(out.find("FAIL  sink"), std::string::npos) << out;
    EXPECT_NE(out.find("fix: create it"), std::string::npos) << out;
    EXPECT_EQ(RunShell(common + "status", &out), 1) << out;
    EXPECT_NE(out.find("slot s1 does not exist"), std::string::npos) << out;
    cluster_->Exec("SELECT pg_create_logical_replication_slot('s1', 'snowcdc')");
    EXPECT_EQ(RunShell(common + "status", &out), 0) << out;
    EXPECT_NE(out.find("confirmed_flush_lsn"), std::string::npos) << out;
    EXPECT_NE(out.find("lag_bytes"), std::string::npos) << out;
    EXPECT_EQ(RunShell(common + "--batch-max-bytes lots status", &out), 2) << out;
    EXPECT_NE(out.find("setting batch_max_bytes: 'lots' from command line"), std::string::npos)
        << out;
}

TEST_F(ShipperIntegrationTest, SlotOfAnotherPluginIsRefused) {
    StartCluster();
    cluster_->Exec("SELECT pg_create_logical_replication_slot('s1', 'test_decoding')");
    StartShipper();
    EXPECT_EQ(shipper_->WaitExit(), 1);
    EXPECT_NE(ReadFileText(log_).find("slot s1 uses plugin test_decoding, not snowcdc"),
              std::string::npos);
}

}  // namespace
}  // namespace snowcdc::testing
