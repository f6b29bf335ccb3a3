// Batcher: records are stored back to back as NDJSON with correct offsets, a batch is ready
// at the size limit or at the age limit (injected times, no waiting), and ids increase.
#include "batcher.hpp"

#include <gtest/gtest.h>

namespace snowcdc {
namespace {

using std::chrono::milliseconds;
const auto kT0 = std::chrono::steady_clock::time_point(std::chrono::seconds(100));

RecordMeta Meta(uint64_t lsn, uint32_t seq) {
    RecordMeta m;
    m.pos = {lsn, seq};
    m.op = 'c';
    return m;
}

TEST(BatcherTest, RecordsAreJoinedAsNdjsonWithOffsets) {
    Batcher b(1 << 20, milliseconds(50));
    b.Add(R"({"a":1})", Meta(10, 0), kT0);
    b.Add(R"({"bb":22})", Meta(10, 1), kT0);
    Batch batch = b.Take();
    EXPECT_EQ(batch.data, "{\"a\":1}\n{\"bb\":22}\n");
    ASSERT_EQ(batch.records.size(), 2u);
    EXPECT_EQ(batch.RecordText(1), R"({"bb":22})");
    EXPECT_EQ(batch.Last(), (StreamPosition{10, 1}));
    EXPECT_EQ(batch.id, 1u);
    EXPECT_TRUE(b.Empty());
    b.Add("{}", Meta(11, 0), kT0);
    EXPECT_EQ(b.Take().id, 2u);
}

TEST(BatcherTest, ReadyAtSizeLimit) {
    Batcher b(20, milliseconds(50));
    b.Add(R"({"a":1})", Meta(1, 0), kT0);
    EXPECT_FALSE(b.Ready(kT0));
    b.Add(R"({"a":2})", Meta(1, 1), kT0);
    EXPECT_FALSE(b.Ready(kT0));
    b.Add(R"({"a":3})", Meta(1, 2), kT0);
    EXPECT_TRUE(b.Ready(kT0));
}

TEST(BatcherTest, ReadyAtAgeOfOldestRecord) {
    Batcher b(1 << 20, milliseconds(50));
    EXPECT_FALSE(b.Deadline().has_value());
    EXPECT_FALSE(b.Ready(kT0 + milliseconds(500)));
    b.Add("{}", Meta(1, 0), kT0);
    b.Add("{}", Meta(1, 1), kT0 + milliseconds(40));
    EXPECT_EQ(b.Deadline(), kT0 + milliseconds(50));
    EXPECT_FALSE(b.Ready(kT0 + milliseconds(49)));
    EXPECT_TRUE(b.Ready(kT0 + milliseconds(50)));
    b.Take();
    b.Add("{}", Meta(2, 0), kT0 + milliseconds(60));
    EXPECT_EQ(b.Deadline(), kT0 + milliseconds(110));
}

TEST(BatcherTest, NewLimitsApplyAtOnce) {
    Batcher b(1 << 20, milliseconds(50));
    b.Add(R"({"a":1})", Meta(1, 0), kT0);
    EXPECT_FALSE(b.Ready(kT0));
    b.SetLimits(4, milliseconds(50));
    EXPECT_TRUE(b.Ready(kT0));
}

}  // namespace
}  // namespace snowcdc
