// Re-snapshot chunk/watermark logic: the envelope of a chunk row is rewritten to the high
// watermark's place, changes of the table between the watermarks drop the rows they touch (by
// raw key text, a truncate drops all), changes outside the window or of other tables do not,
// and the position tracker confirms a high watermark's transaction only once its `r` records
// are durable.
#include "resnapshot.hpp"

#include <gtest/gtest.h>

#include "position_tracker.hpp"

namespace snowcdc {
namespace {

std::string Row(int id, const std::string &v) {
    return R"({"op":"r","lsn":0,"seq":0,"ts":1795260484006456,"schema":"public","table":"t",)"
           R"("key":{"id":)" +
           std::to_string(id) + R"(},"after":{"id":)" + std::to_string(id) + R"(,"v":")" + v +
           R"("}})";
}

std::string Change(char op, const std::string &table, int id) {
    return std::string(R"({"op":")") + op + R"(","lsn":500,"seq":0,"xid":9,"ts":7,)" +
           R"("schema":"public","table":")" + table + R"(","key":{"id":)" + std::to_string(id) +
           "}}";
}

FramedRecord Frame(const std::string &text) {
    std::string error;
    std::optional<FramedRecord> rec = FrameRecord(text, &error);
    EXPECT_TRUE(rec.has_value()) << error << " in " << text;
    return rec.value_or(FramedRecord{});
}

// A window over rows 1..n of public.t (keys as the encoder writes them).
ChunkWindow Window(int n) {
    std::vector<ChunkWindow::Row> rows;
    for (int id = 1; id <= n; ++id)
        rows.push_back({Row(id, "v" + std::to_string(id)), R"({"id":)" + std::to_string(id) + "}"});
    return ChunkWindow("public", "t", std::move(rows));
}

std::vector<int> Ids(const std::vector<std::string> &records) {
    std::vector<int> ids;
    for (const auto &text : records) {
        FramedRecord rec = Frame(text);
        ids.push_back(std::stoi(std::string(rec.key.substr(6, rec.key.size() - 7))));
    }
    return ids;
}

TEST(RewriteSnapshotEnvelopeTest, ReplacesLsnSeqAndTsOnly) {
    std::optional<std::string> out = RewriteSnapshotEnvelope(Row(7, "x"), 123456789, 3, 42);
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, R"({"op":"r","lsn":123456789,"seq":3,"ts":42,"schema":"public","table":"t",)"
                    R"("key":{"id":7},"after":{"id":7,"v":"x"}})");
    FramedRecord rec = Frame(*out);
    EXPECT_EQ(rec.op, 'r');
    EXPECT_EQ(rec.lsn, 123456789u);
    EXPECT_EQ(rec.seq, 3u);
    EXPECT_EQ(rec.ts, 42);
}

TEST(RewriteSnapshotEnvelopeTest, RefusesOtherShapes) {
    EXPECT_FALSE(RewriteSnapshotEnvelope(Change('c', "t", 1), 1, 1, 1));
    EXPECT_FALSE(
        RewriteSnapshotEnvelope(R"({"op":"r","seq":0,"lsn":0,"ts":1,"schema":"s"})", 1, 1, 1));
    EXPECT_FALSE(
        RewriteSnapshotEnvelope(R"({"op":"r","lsn":,"seq":0,"ts":1,"schema":"s"})", 1, 1, 1));
    EXPECT_FALSE(RewriteSnapshotEnvelope(R"({"op":"r","lsn":0)", 1, 1, 1));
}

TEST(ChunkWindowTest, NothingChangedEmitsEveryRowAtTheHighWatermark) {
    ChunkWindow w = Window(3);
    w.Open();
    std::vector<std::string> out = w.Close(900, 1, 55);
    ASSERT_EQ(out.size(), 3u);
    for (size_t i = 0; i < out.size(); ++i) {
        FramedRecord rec = Frame(out[i]);
        EXPECT_EQ(rec.lsn, 900u);
        EXPECT_EQ(rec.seq, 1 + i);
        EXPECT_EQ(rec.ts, 55);
    }
    EXPECT_EQ(Ids(out), (std::vector<int>{1, 2, 3}));
}

TEST(ChunkWindowTest, ChangesBetweenTheWatermarksDropTheirRows) {
    ChunkWindow w = Window(6);
    w.OnChange(Frame(Change('u', "t", 1)));  // before the low watermark: ignored
    w.Open();
    w.OnChange(Frame(Change('u', "t", 2)));
    w.OnChange(Frame(Change('d', "t", 4)));
    w.OnChange(Frame(Change('c', "t", 6)));      // re-inserted after a delete
    w.OnChange(Frame(Change('u', "other", 3)));  // another table, same key
    w.OnChange(Frame(Change('c', "t", 99)));     // outside the chunk
    w.OnChange(Frame(Change('d', "t", 2)));      // already dropped
    EXPECT_EQ(w.Dropped(), 3u);
    EXPECT_EQ(w.Remaining(), 3u);
    std::vector<std::string> out = w.Close(900, 1, 55);
    EXPECT_EQ(Ids(out), (std::vector<int>{1, 3, 5}));
    // seq is dense from first_seq over the rows that remain.
    EXPECT_EQ(Frame(out[2]).seq, 3u);
}

TEST(ChunkWindowTest, KeyChangingUpdateDropsTheOldKey) {
    ChunkWindow w = Window(3);
    w.Open();
    // An update of id 2 to id 7 carries the old identity as its key.
    w.OnChange(Frame(R"({"op":"u","lsn":5,"seq":0,"xid":9,"ts":7,"schema":"public","table":"t",)"
                     R"("key":{"id":2},"after":{"id":7,"v":"moved"}})"));
    EXPECT_EQ(Ids(w.Close(900, 1, 55)), (std::vector<int>{1, 3}));
}

TEST(ChunkWindowTest, TruncateEmptiesTheChunk) {
    ChunkWindow w = Window(3);
    w.Open();
    w.OnChange(Frame(R"({"op":"t","lsn":5,"seq":0,"xid":9,"ts":7,"schema":"public","table":"t"})"));
    EXPECT_EQ(w.Remaining(), 0u);
    EXPECT_TRUE(w.Close(900, 1, 55).empty());
}

TEST(ChunkWindowTest, TruncateOfAnotherTableKeepsTheChunk) {
    ChunkWindow w = Window(2);
    w.Open();
    w.OnChange(Frame(R"({"op":"t","lsn":5,"seq":0,"xid":9,"ts":7,"schema":"public","table":"u"})"));
    EXPECT_EQ(w.Close(900, 1, 55).size(), 2u);
}

TEST(ChunkWindowTest, SurvivesAMove) {
    ChunkWindow moved = Window(40);  // keys long enough and short enough for SSO
    ChunkWindow w = std::move(moved);
    w.Open();
    w.OnChange(Frame(Change('d', "t", 17)));
    EXPECT_EQ(w.Remaining(), 39u);
}

// The high watermark's transaction (begin, the message at seq 0, commit) grows by the chunk's
// records at seq 1..n: the tracker confirms it only once the last of them is durable.
TEST(ResnapshotTrackerTest, HighWatermarkTransactionWaitsForItsRecords) {
    PositionTracker tracker(100);
    tracker.OnBegin();
    tracker.OnForwarded({1000, 1});
    tracker.OnForwarded({1000, 2});
    tracker.OnForwarded({1000, 3});
    ASSERT_TRUE(tracker.OnCommit(1050, 7));
    tracker.Advance(StreamPosition{1000, 2});
    EXPECT_EQ(tracker.Confirmed(), 100u);
    tracker.Advance(StreamPosition{1000, 3});
    EXPECT_EQ(tracker.Confirmed(), 1050u);
}

// A high watermark replayed after a reconnect: its records are not forwarded again, and its
// commit still waits for the ones that are not durable yet.
TEST(ResnapshotTrackerTest, ReplayedHighWatermarkWaitsForRecordsInFlight) {
    PositionTracker tracker(100);
    tracker.OnBegin();
    tracker.OnForwarded({1000, 1});
    tracker.OnForwarded({1000, 2});
    tracker.OnDisconnect();
    tracker.OnBegin();
    tracker.OnSkipped({1000, 2});
    ASSERT_TRUE(tracker.OnCommit(1050, 7));
    tracker.Advance(StreamPosition{1000, 1});
    EXPECT_EQ(tracker.Confirmed(), 100u);
    tracker.Advance(StreamPosition{1000, 2});
    EXPECT_EQ(tracker.Confirmed(), 1050u);
}

}  // namespace
}  // namespace snowcdc
