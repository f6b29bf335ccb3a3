// Capped exponential backoff with full jitter (see backoff.hpp).
#include "backoff.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace snowcdc {

namespace {

Backoff::Random DefaultRandom() {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace

Backoff::Backoff(BackoffPolicy policy, Clock clock, Random random)
    : policy_(policy),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      random_(random ? std::move(random) : DefaultRandom()) {
    if (policy_.multiplier < 1.0)
        policy_.multiplier = 1.0;
    if (policy_.max < policy_.initial)
        policy_.max = policy_.initial;
}

std::chrono::milliseconds Backoff::CurrentCeiling() const {
    // Computed in floating point and clamped before converting, so a long outage cannot overflow.
    double ceiling = static_cast<double>(policy_.initial.count()) *
                     std::pow(policy_.multiplier, static_cast<double>(attempts_));
    double capped = std::min(ceiling, static_cast<double>(policy_.max.count()));
    return std::chrono::milliseconds(static_cast<int64_t>(capped));
}

std::chrono::milliseconds Backoff::NextDelay() {
    std::chrono::milliseconds ceiling = CurrentCeiling();
    if (attempts_ < UINT32_MAX)
        ++attempts_;
    double draw = std::clamp(random_(), 0.0, 1.0);
    auto delay = static_cast<int64_t>(draw * static_cast<double>(ceiling.count()));
    return std::chrono::milliseconds(std::min<int64_t>(delay, ceiling.count()));
}

std::chrono::steady_clock::time_point Backoff::NextAttemptAt() {
    std::chrono::milliseconds delay = NextDelay();
    return clock_() + delay;
}

}  // namespace snowcdc
