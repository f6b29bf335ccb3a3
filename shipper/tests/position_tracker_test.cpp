// Position tracker: commit end LSNs are confirmed only when the sink's durable position
// covers the whole transaction and everything before it; empty and replayed transactions
// advance once everything before them is durable; nothing goes backwards.
#include "position_tracker.hpp"

#include <gtest/gtest.h>

namespace snowcdc {
namespace {

StreamPosition P(uint64_t lsn, uint32_t seq) {
    return {lsn, seq};
}

TEST(PositionTrackerTest, ConfirmsOnlyWholeDurableTransactions) {
    PositionTracker t(50);
    t.OnBegin();
    t.OnForwarded(P(100, 0));
    t.OnForwarded(P(100, 1));
    EXPECT_TRUE(t.OnCommit(120, 7));
    t.OnBegin();
    t.OnForwarded(P(200, 0));
    EXPECT_TRUE(t.OnCommit(220, 8));
    EXPECT_TRUE(t.Advance(std::nullopt).empty());
    EXPECT_EQ(t.Confirmed(), 50u);
    EXPECT_TRUE(t.Advance(P(100, 0)).empty());  // half of the first transaction
    EXPECT_EQ(t.Confirmed(), 50u);
    EXPECT_EQ(t.Advance(P(100, 1)), std::vector<int64_t>{7});
    EXPECT_EQ(t.Confirmed(), 120u);
    EXPECT_FALSE(t.Settled(P(100, 1)));
    EXPECT_EQ(t.Advance(P(200, 0)), std::vector<int64_t>{8});
    EXPECT_EQ(t.Confirmed(), 220u);
    EXPECT_TRUE(t.Settled(P(200, 0)));
}

TEST(PositionTrackerTest, EmptyTransactionWaitsForEverythingBefore) {
    PositionTracker t;
    t.OnBegin();
    t.OnForwarded(P(100, 0));
    t.OnCommit(120, 1);
    t.OnBegin();
    t.OnCommit(140, 2);  // nothing forwarded
    t.Advance(std::nullopt);
    EXPECT_EQ(t.Confirmed(), 0u);
    t.Advance(P(100, 0));
    EXPECT_EQ(t.Confirmed(), 140u);
}

TEST(PositionTrackerTest, FloorFromSinkSkipsAndCoversReplays) {
    PositionTracker t(100);
    t.SetDurableFloor(P(300, 2));
    EXPECT_TRUE(t.AlreadyForwarded(P(300, 2)));
    EXPECT_FALSE(t.AlreadyForwarded(P(300, 3)));
    t.OnBegin();
    t.OnSkipped(P(300, 0));
    t.OnSkipped(P(300, 2));
    t.OnForwarded(P(300, 3));
    t.OnCommit(320, 5);
    t.Advance(std::nullopt);
    EXPECT_EQ(t.Confirmed(), 100u);  // the tail is not durable yet
    t.Advance(P(300, 3));
    EXPECT_EQ(t.Confirmed(), 320u);
}

TEST(PositionTrackerTest, ReplayAfterReconnectWaitsForInFlightRecords) {
    PositionTracker t;
    t.OnBegin();
    t.OnForwarded(P(100, 0));
    t.OnForwarded(P(100, 1));
    t.OnDisconnect();  // commit never arrived
    t.OnBegin();       // the replay
    EXPECT_TRUE(t.AlreadyForwarded(P(100, 1)));
    t.OnSkipped(P(100, 0));
    t.OnSkipped(P(100, 1));
    t.OnCommit(130, 3);
    t.Advance(P(100, 0));
    EXPECT_EQ(t.Confirmed(), 0u);
    t.Advance(P(100, 1));
    EXPECT_EQ(t.Confirmed(), 130u);
}

TEST(PositionTrackerTest, ReplayedCommitIsIgnoredAndNothingMovesBack) {
    PositionTracker t;
    t.OnBegin();
    t.OnForwarded(P(100, 0));
    EXPECT_TRUE(t.OnCommit(120, 1));
    t.OnBegin();
    EXPECT_FALSE(t.OnCommit(120, 1));
    EXPECT_EQ(t.PendingTransactions(), 1u);
    t.Advance(P(100, 0));
    t.OnStandalone(110);
    EXPECT_EQ(t.PendingTransactions(), 0u);
    EXPECT_EQ(t.Confirmed(), 120u);
}

TEST(PositionTrackerTest, StandalonePointsAreIgnoredInsideATransaction) {
    PositionTracker t;
    t.OnBegin();
    t.OnForwarded(P(100, 0));
    t.OnStandalone(90);
    t.OnCommit(120, 1);
    t.OnStandalone(150);
    t.Advance(std::nullopt);
    EXPECT_EQ(t.Confirmed(), 0u);
    t.Advance(P(100, 0));
    EXPECT_EQ(t.Confirmed(), 150u);
}

TEST(PositionTrackerTest, NeverReportsBelowTheSlotsPosition) {
    PositionTracker t(500);
    t.OnBegin();
    EXPECT_FALSE(t.OnCommit(400, 1));
    t.OnStandalone(450);
    t.Advance(std::nullopt);
    EXPECT_EQ(t.Confirmed(), 500u);
}

}  // namespace
}  // namespace snowcdc
