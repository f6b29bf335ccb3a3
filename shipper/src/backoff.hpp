// Capped exponential backoff with full jitter, the one retry-delay policy of the shipper:
// the Postgres reconnect loop and the Snowpipe HTTP retries both use it. The clock and the
// random source are injectable so that tests can check delays without waiting.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace snowcdc {

struct BackoffPolicy {
    std::chrono::milliseconds initial{100};  // ceiling of the first delay
    std::chrono::milliseconds max{30000};    // no delay ever exceeds this
    double multiplier = 2.0;                 // ceiling growth per failed attempt
};

// Usage: on failure `auto at = backoff.NextAttemptAt();` and retry when `at` is reached;
// on success `backoff.Reset()`. Delays are uniform in [0, min(max, initial * multiplier^n)]
// ("full jitter"), so many clients that failed together do not retry together.
class Backoff {
  public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    using Random = std::function<double()>;  // uniform in [0, 1)

    explicit Backoff(BackoffPolicy policy, Clock clock = nullptr, Random random = nullptr);

    // The delay before the next attempt; each call counts one more failed attempt.
    std::chrono::milliseconds NextDelay();
    // now() + NextDelay().
    std::chrono::steady_clock::time_point NextAttemptAt();
    // The ceiling NextDelay() would draw from now, without counting an attempt.
    std::chrono::milliseconds CurrentCeiling() const;
    void Reset() { attempts_ = 0; }
    uint32_t Attempts() const { return attempts_; }
    const BackoffPolicy &Policy() const { return policy_; }

  private:
    BackoffPolicy policy_;
    Clock clock_;
    Random random_;
    uint32_t attempts_ = 0;
};

}  // namespace snowcdc
