// The snapshot plan's JSON form and the ndjson-dir snapshot store: what a crash leaves behind
// (a torn last line, a plan mid-way) is read back as the progress the sink really holds.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "snapshot.hpp"

namespace snowcdc {
namespace {

std::string MakeDir() {
    std::string tmpl = "/tmp/snowcdc-snapstore-XXXXXX";
    EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
    return tmpl;
}

std::string Slurp(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class SnapshotStoreTest : public ::testing::Test {
  protected:
    void SetUp() override { dir_ = MakeDir(); }
    void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
    std::string dir_;
};

SnapshotPlan SamplePlan() {
    SnapshotPlan plan;
    plan.state = SnapshotPlan::State::kReading;
    plan.consistent_point = 0x16B374D848ull;
    plan.snapshot_time = "2026-11-21 09:50:55.123+00";
    SnapshotRange a;
    a.table = "public.items";
    a.relid = 16384;
    a.part = 0;
    a.block_from = 0;
    a.block_to = 100;
    a.done = true;
    SnapshotRange b = a;
    b.part = 1;
    b.block_from = 100;
    b.block_to.reset();
    b.done = false;
    plan.ranges = {a, b};
    return plan;
}

TEST(SnapshotPlan, JsonRoundTrip) {
    SnapshotPlan plan = SamplePlan();
    SnapshotPlan back = SnapshotPlan::FromJson(plan.ToJson());
    EXPECT_EQ(back.ToJson(), plan.ToJson());
    EXPECT_EQ(back.state, SnapshotPlan::State::kReading);
    EXPECT_EQ(back.consistent_point, 0x16B374D848ull);
    EXPECT_EQ(back.RecordLsn(), 0x16B374D847ull);
    ASSERT_EQ(back.ranges.size(), 2u);
    EXPECT_EQ(back.ranges[0].block_to, std::optional<int64_t>(100));
    EXPECT_FALSE(back.ranges[1].block_to.has_value());
    EXPECT_TRUE(back.ranges[0].done);
    EXPECT_FALSE(back.ranges[1].done);
    EXPECT_EQ(back.ranges[1].StreamName(), "snap_16384_1");
}

TEST(SnapshotPlan, RelfilenodeAndGenerationRoundTripAndNameNewStreams) {
    SnapshotPlan plan = SamplePlan();
    plan.ranges[1].relfilenode = 24601;
    plan.ranges[1].generation = 2;
    plan.retired_streams = {"snap_16384_1_g1"};
    SnapshotPlan back = SnapshotPlan::FromJson(plan.ToJson());
    EXPECT_EQ(back.retired_streams, plan.retired_streams);
    EXPECT_EQ(back.ranges[1].relfilenode, 24601u);
    EXPECT_EQ(back.ranges[1].generation, 2);
    EXPECT_EQ(back.ranges[1].StreamName(), "snap_16384_1_g2");
    EXPECT_EQ(back.ranges[0].StreamName(), "snap_16384_0");
    // A plan written before these fields existed still loads (as "not recorded").
    SnapshotPlan old = SnapshotPlan::FromJson(
        R"({"state":"reading","consistent_point":"0/10","snapshot_time":"t","ranges":[)"
        R"({"table":"public.a","relid":5,"part":0,"block_from":0,"block_to":null,"done":false}]})");
    EXPECT_EQ(old.ranges[0].relfilenode, 0u);
    EXPECT_EQ(old.ranges[0].generation, 0);
}

TEST(SnapshotPlan, MalformedJsonThrows) {
    EXPECT_ANY_THROW(SnapshotPlan::FromJson("{"));
    EXPECT_ANY_THROW(SnapshotPlan::FromJson(
        R"({"state":"later","consistent_point":"0/1","snapshot_time":"","ranges":[]})"));
    EXPECT_ANY_THROW(SnapshotPlan::FromJson(
        R"({"state":"done","consistent_point":"zz","snapshot_time":"","ranges":[]})"));
}

TEST_F(SnapshotStoreTest, PlanIsSavedAndLoaded) {
    auto store = MakeNdjsonSnapshotStore(dir_);
    EXPECT_FALSE(store->LoadPlan().has_value());
    store->SavePlan(SamplePlan());
    auto loaded = store->LoadPlan();
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->ToJson(), SamplePlan().ToJson());
    std::ofstream(dir_ + "/snapshot-plan.json") << "not json";
    EXPECT_THROW(store->LoadPlan(), SnapshotStoreError);
}

TEST_F(SnapshotStoreTest, StreamResumesAfterItsLastCompleteRecord) {
    auto store = MakeNdjsonSnapshotStore(dir_);
    std::optional<uint64_t> committed = 99;
    {
        auto writer = store->OpenStream("snap_1_0", &committed);
        EXPECT_FALSE(committed.has_value());
        writer->Append(R"({"op":"r","seq":3})");
        writer->Append(R"({"op":"r","seq":7})");
        writer->Commit();
    }
    {
        auto writer = store->OpenStream("snap_1_0", &committed);
        EXPECT_EQ(committed, std::optional<uint64_t>(7));
        writer->Append(R"({"op":"r","seq":295})");
        writer->Commit();
    }
    // A crash mid-line: the torn tail is cut, the last complete record counts.
    std::ofstream(dir_ + "/snap_1_0.ndjson", std::ios::app) << R"({"op":"r","se)";
    auto writer = store->OpenStream("snap_1_0", &committed);
    EXPECT_EQ(committed, std::optional<uint64_t>(295));
    EXPECT_EQ(Slurp(dir_ + "/snap_1_0.ndjson"),
              "{\"op\":\"r\",\"seq\":3}\n{\"op\":\"r\",\"seq\":7}\n{\"op\":\"r\",\"seq\":295}\n");
    // Other streams are independent.
    store->OpenStream("snap_1_1", &committed);
    EXPECT_FALSE(committed.has_value());
}

TEST_F(SnapshotStoreTest, AForeignLastLineIsAnError) {
    std::ofstream(dir_ + "/snap_2_0.ndjson") << "hello\n";
    auto store = MakeNdjsonSnapshotStore(dir_);
    std::optional<uint64_t> committed;
    EXPECT_THROW(store->OpenStream("snap_2_0", &committed), SnapshotStoreError);
}

}  // namespace
}  // namespace snowcdc
