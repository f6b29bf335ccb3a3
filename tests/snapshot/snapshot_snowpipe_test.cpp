// The initial snapshot into Snowpipe end to end: the real snowcdc-shipper binary with
// snapshot = initial and the snowpipe sink writes every range into a channel of its own
// (<prefix>_snap_<relid>_<part>) of the test double, is killed with -9 mid-snapshot while a
// writer changes the table, resumes each range after the channel's committed offset token,
// and then streams WAL into the WAL channels. Checks: per snapshot channel offset tokens
// never go backwards and no seq is committed twice; untouched rows arrive exactly once; the
// merge of everything by (lsn, seq) equals the table; the plan lives in state_dir; the
// snapshot channels are dropped once the snapshot is done.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "big_table_load.hpp"
#include "pg_cluster.hpp"
#include "shipper_harness.hpp"
#include "snowpipe_double.hpp"
#include "test_keys.hpp"

namespace snowcdc::testing {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class SnapshotSnowpipeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        cluster_ = std::make_unique<TempCluster>();
        cluster_->Exec("CREATE TABLE done (id int PRIMARY KEY)");
        TestKeyPair keys = GenerateTestKeyPair();
        key_file_ = WriteTempFile("rsa_key.p8", keys.private_pem);
        DoubleOptions options;
        options.public_key_pem = keys.public_pem;
        options.commit_delay = milliseconds(50);
        server_ = std::make_unique<SnowpipeDouble>(options);
        work_ = MakeTempDir("snowcdc-snap-snowpipe");
        log_ = work_ + ".log";
    }

    void TearDown() override {
        shipper_.reset();
        if (HasFailure()) {
            std::string text = ReadFileText(log_);
            std::fprintf(stderr, "---- shipper log %s (tail) ----\n%s\n", log_.c_str(),
                         text.substr(text.size() > 8000 ? text.size() - 8000 : 0).c_str());
        }
        RunShell("rm -rf " + work_ + " " + log_);
    }

    void StartShipper() {
        std::vector<std::string> args = QuickShipperArgs(cluster_->ConnInfo(), "snowpipe");
        args.insert(args.end(), {"--snowflake-account",
                                 "testacct",
                                 "--snowflake-user",
                                 "shipper",
                                 "--snowflake-private-key-file",
                                 key_file_,
                                 "--snowflake-database",
                                 "CDC_DB",
                                 "--snowflake-schema",
                                 "PUBLIC",
                                 "--snowflake-pipe",
                                 "CDC_PIPE",
                                 "--snowflake-url",
                                 server_->Url(),
                                 "--snowpipe-channels",
                                 "2",
                                 "--snowpipe-status-interval",
                                 "20ms",
                                 "--snowpipe-retry-initial-delay",
                                 "20ms",
                                 "--snowpipe-retry-max-delay",
                                 "500ms",
                                 "--snowpipe-dead-letter-dir",
                                 work_ + "/dead",
                                 "--state-dir",
                                 work_,
                                 "--snapshot",
                                 "initial",
                                 "--snapshot-range-blocks",
                                 "400",
                                 "--snapshot-parallelism",
                                 "2",
                                 "--snapshot-commit-bytes",
                                 "256kB",
                                 "--log-level",
                                 "info"});
        shipper_ = std::make_unique<ShipperProcess>(args, log_);
    }

    std::string PlanText() const { return ReadFileText(work_ + "/snowcdc.snapshot-plan.json"); }
    bool PlanIs(const std::string &state) const {
        std::string text = PlanText();
        return !text.empty() && json::parse(text)["state"] == state;
    }

    static bool IsSnapshotChannel(const std::string &channel) {
        return channel.rfind("snowcdc_snap_", 0) == 0;
    }

    size_t SnapshotRowsCommitted() const {
        size_t n = 0;
        for (const CommittedRow &row : server_->Committed())
            n += IsSnapshotChannel(row.channel);
        return n;
    }

    std::unique_ptr<TempCluster> cluster_;
    std::unique_ptr<SnowpipeDouble> server_;
    std::unique_ptr<ShipperProcess> shipper_;
    std::string key_file_;
    std::string work_;
    std::string log_;
};

TEST_F(SnapshotSnowpipeTest, KillNineMidSnapshotResumesEveryRowExactlyOnce) {
    cluster_->Exec("CREATE TABLE big (id int PRIMARY KEY, v bigint, pad text)");
    cluster_->Exec(
        "INSERT INTO big SELECT g, g, repeat('p', 200) FROM generate_series(1, 120000) g");
    LoadWriter writer(cluster_->ConnInfo(), 11,
                      BigTableChanges(120000, 80001));  // ids 1..80000 stay untouched
    ASSERT_TRUE(WaitUntil([&] { return writer.Commits() > 20; }));

    StartShipper();
    ASSERT_TRUE(server_->WaitUntil(
        [&] { return SnapshotRowsCommitted() > 20000 || !shipper_->Running(); }, seconds(180)));
    shipper_->Signal(SIGKILL);
    shipper_->WaitExit();
    ASSERT_TRUE(PlanIs("reading")) << "the snapshot ended before the kill: make big larger";
    size_t before = SnapshotRowsCommitted();

    StartShipper();
    ASSERT_TRUE(WaitUntil([&] { return PlanIs("done") || !shipper_->Running(); }, seconds(300)));
    ASSERT_TRUE(PlanIs("done"));
    EXPECT_GT(SnapshotRowsCommitted(), before);
    writer.Stop();
    ASSERT_EQ(writer.Error(), "");
    cluster_->Exec("INSERT INTO done VALUES (1)");
    ASSERT_TRUE(server_->WaitUntil(
        [&] {
            for (const CommittedRow &row : server_->Committed())
                if (row.row.find("\"table\":\"done\"") != std::string::npos)
                    return true;
            return !shipper_->Running();
        },
        seconds(120)));
    ASSERT_TRUE(shipper_->Running());

    uint64_t point = LsnFromText(json::parse(PlanText())["consistent_point"].get<std::string>());
    ASSERT_GT(point, 0u);
    std::vector<CommittedRow> rows = server_->Committed();
    std::map<std::string, std::string> last_token;
    std::map<std::string, uint64_t> last_seq;
    std::map<int64_t, int> reads;
    std::vector<json> records;
    for (const CommittedRow &row : rows) {
        json r = json::parse(row.row);
        if (IsSnapshotChannel(row.channel)) {
            ASSERT_EQ(r["op"], "r");
            ASSERT_EQ(r["lsn"].get<uint64_t>(), point - 1);
            EXPECT_LE(last_token[row.channel], row.offset_token) << row.channel;
            last_token[row.channel] = row.offset_token;
            uint64_t seq = r["seq"].get<uint64_t>();
            auto last = last_seq.find(row.channel);
            ASSERT_TRUE(last == last_seq.end() || last->second < seq)
                << row.channel << " seq " << seq << " committed twice or out of order";
            last_seq[row.channel] = seq;
            if (r["table"] == "big")
                ++reads[r["key"]["id"].get<int64_t>()];
        } else {
            ASSERT_GE(r["lsn"].get<uint64_t>(), point) << row.row;
        }
        if (r.value("table", "") == "big")
            records.push_back(std::move(r));
    }
    EXPECT_GT(last_seq.size(), 2u);  // big was split into several ranges
    for (int64_t id = 1; id <= 80000; ++id)
        ASSERT_EQ(reads[id], 1) << "untouched row " << id << " lost or sent twice";

    // The warehouse's merge: by (lsn, seq), last version per key wins.
    std::stable_sort(records.begin(), records.end(), [](const json &a, const json &b) {
        return std::make_pair(a["lsn"].get<uint64_t>(), a.value("seq", uint64_t{0})) <
               std::make_pair(b["lsn"].get<uint64_t>(), b.value("seq", uint64_t{0}));
    });
    std::map<int64_t, std::string> replica;
    for (const json &r : records) {
        replica.erase(r["key"]["id"].get<int64_t>());
        if (r["op"] != "d")
            replica[r["after"]["id"].get<int64_t>()] =
                std::to_string(r["after"]["v"].get<int64_t>()) + "|" +
                r["after"]["pad"].get<std::string>();
    }
    std::map<int64_t, std::string> source;
    std::istringstream in(cluster_->Query("SELECT id, v, pad FROM big ORDER BY id"));
    std::string line;
    while (std::getline(in, line)) {
        size_t bar = line.find('|');
        source[std::stoll(line.substr(0, bar))] = line.substr(bar + 1);
    }
    EXPECT_EQ(replica.size(), source.size());
    EXPECT_TRUE(replica == source) << "the merged double differs from table big";

    // The finished snapshot's channels are gone; the WAL channels stay.
    for (const std::string &channel : server_->Channels())
        EXPECT_FALSE(IsSnapshotChannel(channel)) << channel << " not dropped";
}

}  // namespace
}  // namespace snowcdc::testing
