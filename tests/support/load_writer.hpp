// A write load for tests: a thread that keeps committing one statement per transaction until
// stopped. The statements come from the caller's generator, driven by a seeded random engine,
// so a run's sequence of statements is reproducible.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <thread>

namespace snowcdc::testing {

class LoadWriter {
  public:
    using NextStatement = std::function<std::string(std::mt19937 &rng)>;

    LoadWriter(std::string conninfo, uint32_t seed, NextStatement next);
    ~LoadWriter();
    LoadWriter(const LoadWriter &) = delete;
    LoadWriter &operator=(const LoadWriter &) = delete;

    // Waits for the statement in progress; the writer also stops at its first error.
    void Stop();
    uint64_t Commits() const { return commits_; }
    // The first error, empty when every statement committed; read it after Stop().
    const std::string &Error() const { return error_; }

  private:
    void Run(const std::string &conninfo, uint32_t seed);

    NextStatement next_;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> commits_{0};
    std::string error_;
    std::thread thread_;
};

}  // namespace snowcdc::testing
