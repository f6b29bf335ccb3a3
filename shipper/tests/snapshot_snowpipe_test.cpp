// The Snowpipe sink's snapshot store against the test double: a channel per range whose
// committed offset token is what a resume starts after; a crash mid-range (appends not yet
// committed) and faults on the way (lost answers, stale sequencers, invalidation) still give
// every record exactly once with offset tokens that never go backwards; the plan lives in
// state_dir; Finish drops the ranges' channels.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>

#include "snapshot.hpp"
#include "snowpipe/protocol.hpp"
#include "snowpipe/snowpipe_sink.hpp"
#include "snowpipe_double.hpp"
#include "test_keys.hpp"

namespace snowcdc::snowpipe {
namespace {

using testing::DoubleFault;
using testing::SnowpipeDouble;

const testing::TestKeyPair &Keys() {
    static const testing::TestKeyPair keys = testing::GenerateTestKeyPair();
    return keys;
}

// An `r` record as encode_rows writes it (envelope first); the row has a column named seq too.
std::string Record(uint64_t seq) {
    return nlohmann::ordered_json{
        {"op", "r"},
        {"lsn", 4096},
        {"seq", seq},
        {"schema", "public"},
        {"table", "t"},
        {"key", {{"id", seq}}},
        {"after", {{"id", seq}, {"seq", 7}, {"pad", std::string(64, 'x')}}}}
        .dump();
}

class SnapshotSnowpipeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        testing::DoubleOptions options;
        options.public_key_pem = Keys().public_pem;
        server_ = std::make_unique<SnowpipeDouble>(options);
        std::string probe = testing::WriteTempFile("probe", "");
        base_ = probe.substr(0, probe.rfind('/'));
        state_dir_ = base_ + "/state";
        ASSERT_EQ(std::system(("mkdir -p " + state_dir_).c_str()), 0);
    }

    std::unique_ptr<SnowpipeSink> MakeSink() {
        SnowpipeSinkOptions options;
        options.auth.account = "testacct";
        options.auth.user = "shipper";
        options.auth.account_url = server_->Url();
        options.auth.user_agent = "snowcdc-shipper/test";
        options.auth.timeout = std::chrono::milliseconds(10000);
        options.pipe = PipeAddress{"CDC_DB", "PUBLIC", "CDC_PIPE"};
        options.channel_count = 1;
        options.channel_prefix = "sp";
        options.channel.request_max_bytes = 2000;  // several appends per commit
        options.channel.status_interval = std::chrono::milliseconds(10);
        options.channel.backoff.initial = std::chrono::milliseconds(5);
        options.channel.backoff.max = std::chrono::milliseconds(50);
        options.dead_letter_dir = base_ + "/dead";
        options.state_dir = state_dir_;
        auto sink = std::make_unique<SnowpipeSink>(std::move(options),
                                                   ParsePrivateKeyPem(Keys().private_pem, "", "t"));
        EXPECT_FALSE(sink->Open().has_value());
        return sink;
    }

    // Reads "range" [0, end) the way the snapshot reader does: opens the stream, skips what it
    // holds, appends in seq order (every third seq, as ctids leave gaps), commits every
    // `commit_every` records. Returns the seq it resumed after.
    std::optional<uint64_t> ReadRange(SnapshotStore &store, const std::string &stream, uint64_t end,
                                      int commit_every, std::optional<uint64_t> crash_after = {}) {
        std::optional<uint64_t> committed;
        std::unique_ptr<SnapshotWriter> writer = store.OpenStream(stream, &committed);
        int n = 0;
        for (uint64_t seq = committed ? *committed + 3 : 0; seq < end; seq += 3) {
            if (crash_after && seq > *crash_after) {
                server_->HoldCommits(true);  // what follows is appended, never committed
            }
            writer->Append(Record(seq));
            if (++n % commit_every == 0 && !(crash_after && seq > *crash_after)) {
                writer->Commit();
            }
        }
        if (!crash_after) {
            writer->Commit();
        }
        return committed;  // a crash: the writer goes away with appends pending
    }

    // Per channel: every seq of [0, end) step 3 exactly once, offset tokens non-decreasing,
    // and each token the seq of the append's last record.
    void ExpectExactlyOnce(const std::string &channel, uint64_t end) {
        std::map<uint64_t, int> seen;
        std::string last_token;
        for (const testing::CommittedRow &row : server_->Committed()) {
            if (row.channel != channel) {
                continue;
            }
            EXPECT_LE(last_token, row.offset_token);
            last_token = row.offset_token;
            ++seen[nlohmann::json::parse(row.row)["seq"].get<uint64_t>()];
        }
        size_t expected = 0;
        for (uint64_t seq = 0; seq < end; seq += 3, ++expected) {
            EXPECT_EQ(seen[seq], 1) << channel << " seq " << seq;
        }
        EXPECT_EQ(seen.size(), expected);
        EXPECT_EQ(server_->CommittedToken(channel),
                  FormatOffsetToken(StreamPosition{(end - 1) / 3 * 3, 0}));
    }

    std::unique_ptr<SnowpipeDouble> server_;
    std::string base_;
    std::string state_dir_;
};

TEST_F(SnapshotSnowpipeTest, TokensAreFixedWidthSeqAndChannelsNamedByPrefix) {
    EXPECT_EQ(SnapshotChannelName("sp", "snap_16384_2"), "sp_snap_16384_2");
    // seq beyond 32 bits (block 2^32-1) keeps the fixed width and the order.
    uint64_t big = 4294967295ull * kSnapshotTuplesPerPage + 290;
    EXPECT_EQ(FormatOffsetToken(StreamPosition{big, 0}).size(), 25u);
    EXPECT_LT(FormatOffsetToken(StreamPosition{9, 0}), FormatOffsetToken(StreamPosition{10, 0}));
    EXPECT_EQ(ParseOffsetToken(FormatOffsetToken(StreamPosition{big, 0}))->lsn, big);
}

TEST_F(SnapshotSnowpipeTest, RangeCommitsAndReopenReportsCommittedSeq) {
    auto sink = MakeSink();
    SnapshotStore *store = sink->Snapshots();
    ASSERT_NE(store, nullptr);
    EXPECT_FALSE(ReadRange(*store, "snap_1_0", 600, 25).has_value());
    ExpectExactlyOnce("sp_snap_1_0", 600);
    std::optional<uint64_t> committed;
    store->OpenStream("snap_1_0", &committed);
    EXPECT_EQ(committed, std::optional<uint64_t>(597));
    std::optional<uint64_t> other;
    store->OpenStream("snap_1_1", &other);
    EXPECT_FALSE(other.has_value());
}

TEST_F(SnapshotSnowpipeTest, CrashMidRangeThenResumeGivesEveryRecordOnce) {
    {
        auto sink = MakeSink();
        ReadRange(*sink->Snapshots(), "snap_5_1", 300, 7);  // a second range, finished
        ReadRange(*sink->Snapshots(), "snap_5_0", 900, 20, 400);
        sink->Close();
    }  // the "crash": appends above 400 were taken but never committed
    auto sink = MakeSink();
    {
        // The re-open discards what the channel holds uncommitted (as Snowflake does).
        std::optional<uint64_t> committed;
        sink->Snapshots()->OpenStream("snap_5_0", &committed);
    }
    server_->HoldCommits(false);
    size_t before_resume = server_->CommittedCount();
    std::optional<uint64_t> resumed_after = ReadRange(*sink->Snapshots(), "snap_5_0", 900, 20);
    ASSERT_TRUE(resumed_after.has_value());
    // The last commit before the crash was at seq 357; appends up to 399 may have committed.
    EXPECT_GE(*resumed_after, 357u);
    EXPECT_LE(*resumed_after, 400u);
    EXPECT_GT(server_->CommittedCount(), before_resume);
    ExpectExactlyOnce("sp_snap_5_0", 900);
    ExpectExactlyOnce("sp_snap_5_1", 300);
}

TEST_F(SnapshotSnowpipeTest, FaultsOnTheWayStillExactlyOnce) {
    auto sink = MakeSink();
    server_->Inject(DoubleFault::kLoseResponse, 2);
    server_->Inject(DoubleFault::kStaleSequencer, 1);
    server_->Inject(DoubleFault::kThrottle, 2);
    server_->Inject(DoubleFault::kStatusUnavailable, 2);
    ReadRange(*sink->Snapshots(), "snap_9_0", 1500, 30);
    EXPECT_GE(server_->Stats().faults_fired, 5u);
    ExpectExactlyOnce("sp_snap_9_0", 1500);
    server_->InvalidateChannel("sp_snap_9_0");
    // A re-read after invalidation: nothing new, nothing repeated.
    std::optional<uint64_t> committed = ReadRange(*sink->Snapshots(), "snap_9_0", 1500, 30);
    EXPECT_EQ(committed, std::optional<uint64_t>(1497));
    ExpectExactlyOnce("sp_snap_9_0", 1500);
}

// A checkpoint lets the read go on while its records commit; Commit() waits for all of them.
TEST_F(SnapshotSnowpipeTest, CheckpointDoesNotWaitForItsOwnRecords) {
    auto sink = MakeSink();
    std::optional<uint64_t> committed;
    auto writer = sink->Snapshots()->OpenStream("snap_3_0", &committed);
    server_->HoldCommits(true);
    for (uint64_t seq = 0; seq < 90; seq += 3)
        writer->Append(Record(seq));
    writer->Checkpoint();  // returns although nothing can commit now
    EXPECT_EQ(server_->CommittedCount(), 0u);
    for (uint64_t seq = 90; seq < 150; seq += 3)
        writer->Append(Record(seq));
    server_->HoldCommits(false);
    writer->Commit();
    ExpectExactlyOnce("sp_snap_3_0", 150);
}

TEST_F(SnapshotSnowpipeTest, OutOfOrderOrSeqlessRecordsAreRefused) {
    auto sink = MakeSink();
    std::optional<uint64_t> committed;
    auto writer = sink->Snapshots()->OpenStream("snap_2_0", &committed);
    writer->Append(Record(10));
    EXPECT_THROW(writer->Append(Record(10)), SnapshotStoreError);
    EXPECT_THROW(writer->Append(Record(4)), SnapshotStoreError);
    EXPECT_THROW(writer->Append(R"({"op":"r","lsn":1})"), SnapshotStoreError);
}

TEST_F(SnapshotSnowpipeTest, PlanLivesInStateDirAndFinishDropsChannels) {
    auto sink = MakeSink();
    SnapshotStore *store = sink->Snapshots();
    EXPECT_FALSE(store->LoadPlan().has_value());
    SnapshotPlan plan;
    plan.state = SnapshotPlan::State::kReading;
    plan.consistent_point = 0x1000;
    plan.snapshot_time = "2026-11-21 11:00:00+00";
    for (int part = 0; part < 2; ++part) {
        SnapshotRange range;
        range.table = "public.t";
        range.relid = 77;
        range.part = part;
        range.done = true;
        plan.ranges.push_back(range);
        ReadRange(*store, range.StreamName(), 60, 5);
    }
    ReadRange(*store, "snap_77_0_old", 30, 5);  // a range replaced after a rewrite
    plan.retired_streams.push_back("snap_77_0_old");
    store->SavePlan(plan);
    EXPECT_EQ(store->LoadPlan()->ToJson(), plan.ToJson());
    std::ifstream file(state_dir_ + "/sp.snapshot-plan.json");
    std::stringstream text;
    text << file.rdbuf();
    EXPECT_EQ(SnapshotPlan::FromJson(text.str()).consistent_point, 0x1000u);
    auto channels = server_->Channels();
    EXPECT_EQ(std::count(channels.begin(), channels.end(), "sp_snap_77_0"), 1);
    store->Finish(plan);
    store->Finish(plan);  // again, as after a crash before the plan was saved done
    channels = server_->Channels();
    EXPECT_EQ(std::count(channels.begin(), channels.end(), "sp_snap_77_0"), 0);
    EXPECT_EQ(std::count(channels.begin(), channels.end(), "sp_snap_77_1"), 0);
    EXPECT_EQ(std::count(channels.begin(), channels.end(), "sp_snap_77_0_old"), 0);
    EXPECT_EQ(std::count(channels.begin(), channels.end(), "sp_0"), 1);  // WAL channel stays
}

}  // namespace
}  // namespace snowcdc::snowpipe
