// Backoff: ceilings grow geometrically up to the cap, draws spread over [0, ceiling], Reset
// starts over, and the injected clock and randomness are the only sources used.
#include "backoff.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace snowcdc {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, TopOfJitterFollowsCappedExponential) {
    Backoff backoff({milliseconds(100), milliseconds(1000), 2.0}, nullptr, [] { return 0.999999; });
    std::vector<int64_t> delays;
    for (int i = 0; i < 6; ++i)
        delays.push_back(backoff.NextDelay().count());
    EXPECT_EQ(delays, (std::vector<int64_t>{99, 199, 399, 799, 999, 999}));
    EXPECT_EQ(backoff.Attempts(), 6u);
}

TEST(BackoffTest, BottomOfJitterIsZero) {
    Backoff backoff({milliseconds(100), milliseconds(1000), 2.0}, nullptr, [] { return 0.0; });
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(backoff.NextDelay().count(), 0);
}

TEST(BackoffTest, HalfDrawIsHalfTheCeiling) {
    Backoff backoff({milliseconds(200), milliseconds(10000), 3.0}, nullptr, [] { return 0.5; });
    EXPECT_EQ(backoff.NextDelay().count(), 100);
    EXPECT_EQ(backoff.NextDelay().count(), 300);
    EXPECT_EQ(backoff.NextDelay().count(), 900);
}

TEST(BackoffTest, ResetStartsOver) {
    Backoff backoff({milliseconds(100), milliseconds(1000), 2.0}, nullptr, [] { return 0.999999; });
    backoff.NextDelay();
    backoff.NextDelay();
    EXPECT_EQ(backoff.CurrentCeiling().count(), 400);
    backoff.Reset();
    EXPECT_EQ(backoff.Attempts(), 0u);
    EXPECT_EQ(backoff.NextDelay().count(), 99);
}

TEST(BackoffTest, NextAttemptAtUsesInjectedClock) {
    auto base = std::chrono::steady_clock::time_point(std::chrono::seconds(1000));
    Backoff backoff(
        {milliseconds(100), milliseconds(1000), 2.0}, [base] { return base; }, [] { return 0.5; });
    EXPECT_EQ(backoff.NextAttemptAt(), base + milliseconds(50));
    EXPECT_EQ(backoff.NextAttemptAt(), base + milliseconds(100));
}

TEST(BackoffTest, ManyFailuresNeverOverflowTheCap) {
    Backoff backoff({milliseconds(100), milliseconds(30000), 2.0}, nullptr,
                    [] { return 0.999999; });
    for (int i = 0; i < 5000; ++i)
        EXPECT_LE(backoff.NextDelay().count(), 30000);
    EXPECT_EQ(backoff.CurrentCeiling().count(), 30000);
}

TEST(BackoffTest, OutOfRangeRandomnessIsClamped) {
    Backoff backoff({milliseconds(100), milliseconds(1000), 2.0}, nullptr, [] { return 7.0; });
    EXPECT_EQ(backoff.NextDelay().count(), 100);
    Backoff negative({milliseconds(100), milliseconds(1000), 2.0}, nullptr, [] { return -1.0; });
    EXPECT_EQ(negative.NextDelay().count(), 0);
}

TEST(BackoffTest, DefaultRandomnessStaysWithinCeiling) {
    Backoff backoff({milliseconds(100), milliseconds(800), 2.0});
    for (int i = 0; i < 200; ++i) {
        milliseconds ceiling = backoff.CurrentCeiling();
        milliseconds delay = backoff.NextDelay();
        EXPECT_GE(delay.count(), 0);
        EXPECT_LE(delay.count(), ceiling.count());
    }
}

}  // namespace
}  // namespace snowcdc
