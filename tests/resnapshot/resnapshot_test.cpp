// Re-snapshot of one table while streaming, end to end: the real snowcdc-shipper binary, a
// TempCluster, the ndjson-dir sink. With a write load on the table (inserts, updates, key
// changes, deletes), `snowcdc-shipper resnapshot` re-reads a 20k-row table in chunks between
// watermarks. Checks: the table rebuilt from the sink by (lsn, seq) equals the source; every row
// the load never touched has an `r` record after the request; no deleted row comes back from a
// stale `r`; kill -9 mid re-snapshot and the restarted shipper finishes it from its durable
// progress; so does a Postgres restart; a cancel stops it.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "load_writer.hpp"
#include "pg_cluster.hpp"
#include "shipper_harness.hpp"

namespace snowcdc::testing {
namespace {

using json = nlohmann::json;
using std::chrono::seconds;

constexpr int kRows = 20000;

// Changes to table t, one statement per transaction: only rows whose id is a multiple of 5 (and
// new rows above kRows) are touched, so every other row exists unchanged throughout.
LoadWriter::NextStatement TableChanges() {
    return [next_id = 1000000](std::mt19937 &rng) mutable -> std::string {
        std::string id = std::to_string(std::uniform_int_distribution<int>(1, kRows / 5)(rng) * 5);
        switch (rng() % 6) {
            case 0:
                return "INSERT INTO t VALUES (" + std::to_string(next_id++) + ", 'new', 0)";
            case 1:
                return "DELETE FROM t WHERE id = " + id;
            case 2:  // re-insert a deleted row (a no-op while it exists)
                return "INSERT INTO t VALUES (" + id + ", 'again', 1) ON CONFLICT DO NOTHING";
            case 3:  // key change: to a free multiple of 5 above kRows
                return "UPDATE t SET id = " + std::to_string(5 * (next_id++)) + " WHERE id = " + id;
            default:
                return "UPDATE t SET n = n + 1, v = 'upd' WHERE id = " + id;
        }
    };
}

class ResnapshotTest : public ::testing::Test {
  protected:
    void SetUp() override {
        cluster_ = std::make_unique<TempCluster>();
        cluster_->Exec("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL, n int NOT NULL)");
        cluster_->Exec("INSERT INTO t SELECT g, 'v' || g, 0 FROM generate_series(1, " +
                       std::to_string(kRows) + ") g");
        cluster_->Exec("CREATE TABLE marker (id int PRIMARY KEY)");
        dir_ = MakeTempDir("snowcdc-resnap-sink");
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

    void StartShipper(const std::string &chunk_rows) {
        std::vector<std::string> args = QuickShipperArgs(cluster_->ConnInfo(), "ndjson-dir");
        args.insert(args.end(), {"--output-dir", dir_, "--snapshot", "never", "--log-level", "info",
                                 "--resnapshot-chunk-rows", chunk_rows});
        shipper_ = std::make_unique<ShipperProcess>(args, log_);
        // Streaming has started once the slot exists and a marker written then arrives.
        ASSERT_TRUE(WaitUntil([&] {
            return cluster_->Query(
                       "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                       "'s1'") == "1" ||
                   !shipper_->Running();
        }));
        Mark();
    }

    // The `resnapshot` command, as an operator runs it.
    void Request(const std::string &flags = "") {
        std::string out;
        int rc = RunShell(std::string(SNOWCDC_SHIPPER_BINARY) + " --conninfo '" +
                              cluster_->ConnInfo() + "' resnapshot --table public.t " + flags,
                          &out);
        ASSERT_EQ(rc, 0) << out;
    }

    std::string Status() const {
        return cluster_->Query("SELECT status FROM snowcdc.snapshot_requests LIMIT 1");
    }
    int64_t DurableChunks() const {
        std::string text = cluster_->Query("SELECT chunks FROM snowcdc.snapshot_requests LIMIT 1");
        return text.empty() ? 0 : std::stoll(text);
    }

    // Writes a marker row and waits until the sink holds it: everything before is there too.
    void Mark() {
        int id = ++markers_;
        cluster_->Exec("INSERT INTO marker VALUES (" + std::to_string(id) + ")");
        ASSERT_TRUE(WaitUntil(
            [&] {
                for (const json &r : ReadSinkRecords(dir_))
                    if (r.value("table", "") == "marker" && r["key"]["id"] == id)
                        return true;
                return !shipper_->Running();
            },
            seconds(120)));
        ASSERT_TRUE(shipper_->Running());
    }

    void WaitForStatus(const std::string &status) {
        ASSERT_TRUE(
            WaitUntil([&] { return Status() == status || !shipper_->Running(); }, seconds(240)));
        ASSERT_EQ(Status(), status);
    }

    std::vector<json> Records(const std::string &table) const {
        std::vector<json> records;
        for (json &r : ReadSinkRecords(dir_))
            if (r.value("table", "") == table)
                records.push_back(std::move(r));
        std::stable_sort(records.begin(), records.end(), [](const json &a, const json &b) {
            return std::make_pair(a["lsn"].get<uint64_t>(), a.value("seq", uint64_t{0})) <
                   std::make_pair(b["lsn"].get<uint64_t>(), b.value("seq", uint64_t{0}));
        });
        return records;
    }

    // Merges t's records by (lsn, seq) as the warehouse does, counting `r` records that bring
    // back a row whose delete came before them (with no insert of it between).
    std::map<int64_t, std::string> Replica(int *resurrected) const {
        std::map<int64_t, std::string> replica;
        std::set<int64_t> deleted;
        *resurrected = 0;
        for (const json &r : Records("t")) {
            int64_t key = r["key"]["id"].get<int64_t>();
            replica.erase(key);
            if (r["op"] == "d") {
                deleted.insert(key);
                continue;
            }
            int64_t id = r["after"]["id"].get<int64_t>();
            if (r["op"] == "r" && deleted.count(id) > 0)
                ++*resurrected;
            if (r["op"] == "c" || r["op"] == "u")
                deleted.erase(id);
            replica[id] = r["after"]["v"].get<std::string>() + "|" +
                          std::to_string(r["after"]["n"].get<int64_t>());
        }
        return replica;
    }

    void ExpectReplicaEqualsSource() {
        int resurrected = 0;
        std::map<int64_t, std::string> replica = Replica(&resurrected);
        EXPECT_EQ(resurrected, 0) << "r records brought deleted rows back";
        std::map<int64_t, std::string> source;
        std::istringstream in(cluster_->Query("SELECT id, v || '|' || n FROM t ORDER BY id"));
        std::string line;
        while (std::getline(in, line)) {
            size_t bar = line.find('|');
            source[std::stoll(line.substr(0, bar))] = line.substr(bar + 1);
        }
        EXPECT_EQ(replica.size(), source.size());
        EXPECT_TRUE(replica == source) << "the merged sink differs from table t";
    }

    // Rows the load never touches (id not a multiple of 5) each have an `r` record after
    // `after_lsn` (the request) with their current values.
    void ExpectUntouchedRowsResnapshotted(uint64_t after_lsn) {
        std::set<int64_t> seen;
        for (const json &r : Records("t"))
            if (r["op"] == "r" && r["lsn"].get<uint64_t>() > after_lsn) {
                int64_t id = r["after"]["id"].get<int64_t>();
                if (id % 5 != 0 && id <= kRows) {
                    EXPECT_EQ(r["after"]["v"], "v" + std::to_string(id));
                }
                seen.insert(id);
            }
        int missing = 0;
        for (int id = 1; id <= kRows; ++id)
            if (id % 5 != 0 && seen.count(id) == 0)
                ++missing;
        EXPECT_EQ(missing, 0) << "untouched rows without an r record after the request";
    }

    uint64_t CurrentLsn() const {
        return LsnFromText(cluster_->Query("SELECT pg_current_wal_lsn()"));
    }

    std::unique_ptr<TempCluster> cluster_;
    std::unique_ptr<ShipperProcess> shipper_;
    std::string dir_;
    std::string log_;
    int markers_ = 0;
};

TEST_F(ResnapshotTest, UnderWriteLoadTheRebuiltTableEqualsTheSource) {
    StartShipper("200");
    LoadWriter writer(cluster_->ConnInfo(), 11, TableChanges());
    ASSERT_TRUE(WaitUntil([&] { return writer.Commits() > 50 || !writer.Error().empty(); }));
    uint64_t before = CurrentLsn();
    uint64_t commits_at_request = writer.Commits();
    Request();
    WaitForStatus("done");
    uint64_t commits_during = writer.Commits() - commits_at_request;
    writer.Stop();
    ASSERT_EQ(writer.Error(), "");
    EXPECT_GT(commits_during, 0u) << "the load did not overlap the re-snapshot";
    Mark();
    ExpectReplicaEqualsSource();
    ExpectUntouchedRowsResnapshotted(before);
    EXPECT_EQ(cluster_->Query("SELECT chunks >= 100, last_key IS NOT NULL FROM "
                              "snowcdc.snapshot_requests"),
              "t|t");
    std::string log = ReadFileText(log_);
    size_t done = log.find("\"re-snapshot done\"");
    ASSERT_NE(done, std::string::npos);
    size_t line = log.rfind('\n', done) + 1;
    std::printf("load commits during the re-snapshot: %llu; %s\n",
                static_cast<unsigned long long>(commits_during),
                log.substr(line, log.find('\n', done) - line).c_str());
    // The extension's bookkeeping is not shipped as data.
    EXPECT_TRUE(Records("snapshot_request").empty());
}

TEST_F(ResnapshotTest, KillNineMidResnapshotAndTheRestartFinishesIt) {
    StartShipper("50");
    LoadWriter writer(cluster_->ConnInfo(), 11, TableChanges());
    uint64_t before = CurrentLsn();
    Request();
    ASSERT_TRUE(WaitUntil([&] { return DurableChunks() >= 3 || !shipper_->Running(); }));
    shipper_->Signal(SIGKILL);
    shipper_->WaitExit();
    int64_t chunks_at_kill = DurableChunks();
    ASSERT_EQ(Status(), "running") << "the re-snapshot ended before the kill";
    ASSERT_LT(chunks_at_kill, kRows / 50);
    StartShipper("50");
    WaitForStatus("done");
    writer.Stop();
    ASSERT_EQ(writer.Error(), "");
    Mark();
    EXPECT_NE(ReadFileText(log_).find("\"re-snapshot resumes\""), std::string::npos);
    ExpectReplicaEqualsSource();
    ExpectUntouchedRowsResnapshotted(before);
}

// A Postgres restart mid re-snapshot: the shipper reconnects, the chunk in the stream is read
// again under new watermarks (the old ones replay and are ignored), and it finishes.
TEST_F(ResnapshotTest, APostgresRestartMidResnapshotIsSurvived) {
    StartShipper("50");
    uint64_t before = CurrentLsn();
    Request();
    ASSERT_TRUE(WaitUntil([&] { return DurableChunks() >= 3 || !shipper_->Running(); }));
    cluster_->Restart("fast");
    ASSERT_NE(Status(), "done") << "the re-snapshot ended before the restart";
    WaitForStatus("done");
    Mark();
    ExpectReplicaEqualsSource();
    ExpectUntouchedRowsResnapshotted(before);
}

TEST_F(ResnapshotTest, CancelStopsIt) {
    StartShipper("20");
    uint64_t before = CurrentLsn();
    Request();
    ASSERT_TRUE(WaitUntil([&] { return DurableChunks() >= 2 || !shipper_->Running(); }));
    Request("--cancel");
    WaitForStatus("cancelled");
    ASSERT_TRUE(WaitUntil(
        [&] { return ReadFileText(log_).find("re-snapshot stopped") != std::string::npos; }));
    Mark();
    size_t r_after_cancel = 0;
    for (const json &r : Records("t"))
        r_after_cancel += r["op"] == "r" && r["lsn"].get<uint64_t>() > before;
    EXPECT_GT(r_after_cancel, 0u);
    EXPECT_LT(r_after_cancel, static_cast<size_t>(kRows)) << "the cancel did not stop it";
    // Nothing more comes: another marker later, the count is the same.
    cluster_->Exec("UPDATE t SET n = n + 1 WHERE id = 1");
    Mark();
    size_t r_later = 0;
    for (const json &r : Records("t"))
        r_later += r["op"] == "r" && r["lsn"].get<uint64_t>() > before;
    EXPECT_EQ(r_later, r_after_cancel);
    EXPECT_NE(cluster_->Query("SELECT detail FROM snowcdc.snapshot_requests").find("cancelled"),
              std::string::npos);
}

TEST_F(ResnapshotTest, ATableWithoutKeyIsRefusedNamingTheFix) {
    cluster_->Exec("CREATE TABLE nokey (v text)");
    std::string out;
    int rc = RunShell(std::string(SNOWCDC_SHIPPER_BINARY) + " --conninfo '" + cluster_->ConnInfo() +
                          "' resnapshot --table public.nokey",
                      &out);
    EXPECT_NE(rc, 0);
    EXPECT_NE(out.find("public.nokey has no primary key"), std::string::npos) << out;
    EXPECT_NE(out.find("ADD PRIMARY KEY"), std::string::npos) << out;
}

}  // namespace
}  // namespace snowcdc::testing
