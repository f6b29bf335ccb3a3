// End to end: the real snowcdc-shipper streams a TempCluster through the snowcdc plugin and
// the Snowpipe sink into the test double. Under a mixed workload of more than 100k changes
// the shipper is killed with SIGKILL at random points and restarted; afterwards every
// source change (as an independent snowcdc slot decodes it) must be committed in the double
// exactly once, every key's versions in stream order, offset tokens monotonic per channel,
// and the replica built from the committed rows equal to the source table.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "pg_cluster.hpp"
#include "shipper_harness.hpp"
#include "snowpipe_double.hpp"
#include "test_keys.hpp"

namespace snowcdc::testing {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Position {
    uint64_t lsn;
    uint32_t seq;
    bool operator<(const Position &o) const { return lsn < o.lsn || (lsn == o.lsn && seq < o.seq); }
};

class SnowpipeEndToEndTest : public ::testing::Test {
  protected:
    void SetUp() override {
        cluster_ = std::make_unique<TempCluster>();
        cluster_->Exec("CREATE TABLE acct (id int PRIMARY KEY, balance bigint, note text)");
        cluster_->Exec("CREATE TABLE done (id int PRIMARY KEY)");
        // An independent decoding of the same changes: the list the double must end up with.
        cluster_->Exec("SELECT pg_create_logical_replication_slot('check', 'snowcdc')");
        TestKeyPair keys = GenerateTestKeyPair("e2e passphrase");
        key_file_ = WriteTempFile("rsa_key.p8", keys.private_pem);
        DoubleOptions options;
        options.public_key_pem = keys.public_pem;
        options.commit_delay = milliseconds(200);
        server_ = std::make_unique<SnowpipeDouble>(options);
        dead_letters_ = MakeTempDir("snowcdc-e2e-dead");
        log_ = dead_letters_ + ".log";
    }

    void TearDown() override {
        shipper_.reset();
        if (HasFailure()) {
            std::fprintf(stderr, "---- shipper log %s (tail) ----\n%s\n", log_.c_str(),
                         Tail(ReadFileText(log_), 6000).c_str());
        }
        RunShell("rm -rf " + dead_letters_ + " " + log_);
    }

    static std::string Tail(const std::string &text, size_t n) {
        return text.size() > n ? text.substr(text.size() - n) : text;
    }

    void StartShipper() {
        std::vector<std::string> args = QuickShipperArgs(cluster_->ConnInfo(), "snowpipe");
        args.insert(args.end(), {"--snowflake-account",
                                 "testacct",
                                 "--snowflake-user",
                                 "shipper",
                                 "--snowflake-private-key-file",
                                 key_file_,
                                 "--snowflake-private-key-passphrase",
                                 "e2e passphrase",
                                 "--snowflake-database",
                                 "CDC_DB",
                                 "--snowflake-schema",
                                 "PUBLIC",
                                 "--snowflake-pipe",
                                 "CDC_PIPE",
                                 "--snowflake-url",
                                 server_->Url(),
                                 "--snowpipe-channels",
                                 "4",
                                 "--snowpipe-status-interval",
                                 "50ms",
                                 "--snowpipe-retry-initial-delay",
                                 "20ms",
                                 "--snowpipe-retry-max-delay",
                                 "500ms",
                                 "--snowpipe-dead-letter-dir",
                                 dead_letters_,
                                 "--log-level",
                                 "info"});
        shipper_ = std::make_unique<ShipperProcess>(args, log_);
        ASSERT_TRUE(WaitUntil([&] {
            return cluster_->Query(
                       "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                       "'s1' AND confirmed_flush_lsn IS NOT NULL") == "1" ||
                   !shipper_->Running();
        }));
        ASSERT_TRUE(shipper_->Running()) << Tail(ReadFileText(log_), 3000);
    }

    // Transactions of very different sizes: bulk inserts, range updates, single-row updates,
    // key-changing updates, deletes. About 2,100 changes per round.
    void RunRound(int round) {
        int base = round * 1000;
        std::string r = std::to_string(round);
        cluster_->Exec("INSERT INTO acct SELECT g, g, 'n" + r + "' FROM generate_series(" +
                       std::to_string(base) + ", " + std::to_string(base + 999) + ") g");
        cluster_->Exec("UPDATE acct SET balance = balance + 1, note = 'u" + r +
                       "' WHERE id % 5 = " + std::to_string(round % 5) + " AND id BETWEEN " +
                       std::to_string(base - 2000) + " AND " + std::to_string(base + 999));
        std::string small = "";
        for (int i = 0; i < 20; ++i) {
            small += "BEGIN; UPDATE acct SET balance = balance * 2 WHERE id = " +
                     std::to_string(base + i * 7) + "; INSERT INTO acct VALUES (" +
                     std::to_string(-(base + i + 1)) + ", 0, 's'); COMMIT; ";
        }
        cluster_->Exec(small);
        cluster_->Exec("UPDATE acct SET id = id + 1000000 WHERE id BETWEEN " +
                       std::to_string(base + 900) + " AND " + std::to_string(base + 919));
        cluster_->Exec("DELETE FROM acct WHERE id % 11 = " + std::to_string(round % 11) +
                       " AND id < " + std::to_string(base));
    }

    std::vector<json> CheckRecords() const {
        std::vector<json> records;
        std::istringstream in(
            cluster_->Query("SELECT data FROM pg_logical_slot_peek_changes('check', NULL, NULL)"));
        std::string line;
        while (std::getline(in, line)) {
            records.push_back(json::parse(line));
        }
        return records;
    }

    // After a kill: every transaction whose commit the slot confirmed must already be wholly
    // committed in the double (the shipper confirms only what Snowflake committed). Returns
    // how many confirmed transactions were checked.
    size_t ExpectConfirmedIsCommitted() {
        uint64_t confirmed = LsnFromText(cluster_->Query(
            "SELECT coalesce(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots "
            "WHERE slot_name = 's1'"));
        std::set<std::pair<uint64_t, uint32_t>> committed;
        for (const CommittedRow &row : server_->Committed()) {
            json record = json::parse(row.row);
            committed.emplace(record["lsn"].get<uint64_t>(), record.value("seq", 0u));
        }
        std::istringstream in(cluster_->Query(
            "SELECT data FROM pg_logical_slot_peek_changes('check', NULL, NULL, 'transactions', "
            "'on')"));
        std::string line;
        std::vector<std::pair<uint64_t, uint32_t>> txn;
        size_t checked = 0;
        size_t missing = 0;
        while (std::getline(in, line)) {
            json record = json::parse(line);
            std::string op = record["op"];
            if (op == "begin") {
                txn.clear();
            } else if (op == "commit") {
                if (record["end_lsn"].get<uint64_t>() <= confirmed) {
                    ++checked;
                    for (const auto &pos : txn) {
                        missing += committed.count(pos) == 0;
                    }
                }
            } else {
                txn.emplace_back(record["lsn"].get<uint64_t>(), record.value("seq", 0u));
            }
        }
        EXPECT_EQ(missing, 0u) << "records of transactions confirmed up to " << confirmed
                               << " are not committed in the double";
        return checked;
    }

    std::unique_ptr<TempCluster> cluster_;
    std::unique_ptr<SnowpipeDouble> server_;
    std::unique_ptr<ShipperProcess> shipper_;
    std::string key_file_;
    std::string dead_letters_;
    std::string log_;
};

TEST_F(SnowpipeEndToEndTest, KillNineDuringMixedWorkloadCommitsEveryChangeExactlyOnce) {
    StartShipper();
    std::atomic<bool> workload_done{false};
    std::string end_lsn;
    std::thread workload([&] {
        for (int round = 1; round <= 56; ++round) {
            RunRound(round);
        }
        cluster_->Exec("INSERT INTO done VALUES (1)");
        end_lsn = cluster_->Query("SELECT pg_current_wal_lsn()");
        workload_done = true;
    });
    // Caught up: the workload is over and the slot confirmed its end, which the shipper
    // does only once the double committed everything up to there.
    auto caught_up = [&] {
        return workload_done &&
               cluster_->Query("SELECT confirmed_flush_lsn >= '" + end_lsn +
                               "' FROM pg_replication_slots WHERE slot_name = 's1'") == "t";
    };
    std::mt19937 random(std::random_device{}());
    int kills = 0;
    size_t confirmed_checked = 0;
    while (kills < 25) {
        // Kill at a random point: after a random number of further rows reached the double,
        // during the workload and during the catch-up after it.
        uint64_t target = server_->Stats().rows_appended + 1000 + random() % 8000;
        bool reached = server_->WaitUntil(
            [&] { return server_->Stats().rows_appended >= target || caught_up(); }, seconds(120));
        if (!reached || caught_up()) {
            break;
        }
        shipper_->Signal(SIGKILL);
        EXPECT_EQ(shipper_->WaitExit(), 128 + SIGKILL);
        confirmed_checked += ExpectConfirmedIsCommitted();
        ++kills;
        StartShipper();
    }
    workload.join();
    std::vector<json> expected = CheckRecords();
    ASSERT_GE(expected.size(), 100000u);
    EXPECT_GE(kills, 3) << "the workload ended before enough kills";
    EXPECT_GT(confirmed_checked, 0u) << "no kill happened after a confirmation";

    // Wait until the double holds as many rows as the source produced (the limit only
    // bounds a broken run); the exact comparison follows.
    ASSERT_TRUE(server_->WaitUntil(
        [&] {
            return server_->Stats().rows_appended >= expected.size() &&
                   server_->Committed().size() >= expected.size();
        },
        seconds(300)))
        << "committed " << server_->Committed().size() << " of " << expected.size();
    shipper_->Signal(SIGTERM);
    EXPECT_EQ(shipper_->WaitExit(), 0) << "SIGTERM drains and exits 0";

    std::vector<CommittedRow> committed = server_->Committed();
    std::map<Position, int> seen;
    std::map<std::string, std::string> last_token;
    std::map<std::string, Position> last_of_key;
    std::map<std::string, std::string> channel_of_key;
    for (const CommittedRow &row : committed) {
        json record = json::parse(row.row);
        Position pos{record["lsn"].get<uint64_t>(), record.value("seq", 0u)};
        ++seen[pos];
        EXPECT_LE(last_token[row.channel], row.offset_token) << "channel " << row.channel;
        last_token[row.channel] = row.offset_token;
        std::string key = record.value("table", "") + record.value("key", json::object()).dump();
        auto [at, inserted] = channel_of_key.emplace(key, row.channel);
        EXPECT_EQ(at->second, row.channel) << "key " << key << " travels in one channel";
        auto last = last_of_key.find(key);
        if (last != last_of_key.end()) {
            EXPECT_TRUE(last->second < pos) << "key " << key << " out of order";
        }
        last_of_key[key] = pos;
    }
    size_t missing = 0;
    size_t duplicated = 0;
    for (const json &record : expected) {
        auto it = seen.find(Position{record["lsn"].get<uint64_t>(), record.value("seq", 0u)});
        missing += it == seen.end();
        duplicated += it != seen.end() && it->second > 1;
    }
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(duplicated, 0u);
    EXPECT_EQ(seen.size(), expected.size()) << "nothing that the source did not produce";

    // The replica built from the committed rows in (lsn, seq) order equals the source.
    std::vector<json> ordered;
    for (const CommittedRow &row : committed) {
        ordered.push_back(json::parse(row.row));
    }
    std::sort(ordered.begin(), ordered.end(), [](const json &a, const json &b) {
        return Position{a["lsn"], a.value("seq", 0u)} < Position{b["lsn"], b.value("seq", 0u)};
    });
    std::map<int, std::string> replica;
    for (const json &r : ordered) {
        if (r.value("table", "") != "acct") {
            continue;
        }
        replica.erase(r["key"]["id"].get<int>());
        if (r["op"] != "d") {
            replica[r["after"]["id"].get<int>()] =
                std::to_string(r["after"]["balance"].get<int64_t>()) + "|" +
                r["after"]["note"].get<std::string>();
        }
    }
    std::map<int, std::string> source;
    std::istringstream rows(cluster_->Query("SELECT id, balance, note FROM acct ORDER BY id"));
    std::string line;
    while (std::getline(rows, line)) {
        size_t bar = line.find('|');
        source[std::stoi(line.substr(0, bar))] = line.substr(bar + 1);
    }
    EXPECT_EQ(replica.size(), source.size());
    EXPECT_TRUE(replica == source) << "replica from committed rows differs from the source";
    std::printf(
        "e2e: %zu changes, %d kills, %zu confirmed transactions checked at kills, %llu "
        "appends, %llu opens\n",
        expected.size(), kills, confirmed_checked,
        static_cast<unsigned long long>(server_->Stats().appends),
        static_cast<unsigned long long>(server_->Stats().opens));
}

// Not a benchmark (2 shared cores, loopback, no real commit delay): numbers for the report,
// printed, never asserted. Latency: single-row commit in Postgres until the row is committed
// in the double with commit delay 0. Throughput: a ~100k-change workload from its first
// statement until the last change is committed.
TEST_F(SnowpipeEndToEndTest, ObservedLatencyAndThroughput) {
    server_->SetCommitDelay(milliseconds(0));
    StartShipper();
    std::vector<double> latencies_ms;
    for (int i = 1; i <= 20; ++i) {
        size_t before = server_->CommittedCount();
        Clock::time_point start = Clock::now();
        cluster_->Exec("INSERT INTO done VALUES (" + std::to_string(i) + ")");
        ASSERT_TRUE(
            server_->WaitUntil([&] { return server_->CommittedCount() > before; }, seconds(60)));
        latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::sort(latencies_ms.begin(), latencies_ms.end());
    Clock::time_point start = Clock::now();
    for (int round = 1; round <= 50; ++round) {
        RunRound(round);
    }
    double workload_s = std::chrono::duration<double>(Clock::now() - start).count();
    size_t expected = CheckRecords().size();
    ASSERT_TRUE(
        server_->WaitUntil([&] { return server_->CommittedCount() >= expected; }, seconds(300)));
    double total_s = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_EQ(server_->CommittedCount(), expected);
    std::printf("latency ms (20 single-row txns): min %.1f median %.1f max %.1f\n",
                latencies_ms.front(), latencies_ms[latencies_ms.size() / 2], latencies_ms.back());
    std::printf(
        "throughput: %zu changes committed %.2f s after the first statement (workload "
        "itself %.2f s): %.0f changes/s; %llu appends\n",
        expected, total_s, workload_s, static_cast<double>(expected) / total_s,
        static_cast<unsigned long long>(server_->Stats().appends));
}

}  // namespace
}  // namespace snowcdc::testing
