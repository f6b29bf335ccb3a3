// Batcher: collects forwarded records into NDJSON batches and says when one is ready: at a
// size limit, or when its oldest record has waited the maximum delay. Batches may cut
// through transactions; only confirmation to Postgres waits for whole transactions.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

#include "sink.hpp"

namespace snowcdc {

class Batcher {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;

    Batcher(size_t max_bytes, std::chrono::milliseconds max_delay);

    // Appends the record's text and '\n'; `meta` gives pos, op and route_hash.
    void Add(std::string_view text, RecordMeta meta, TimePoint now);
    // Ready when it reached max_bytes or its oldest record is max_delay old.
    bool Ready(TimePoint now) const;
    // When the current batch becomes ready by age; nullopt when empty.
    std::optional<TimePoint> Deadline() const;
    // Hands over the current batch (numbered 1, 2, ...) and starts an empty one.
    Batch Take();

    bool Empty() const { return batch_.records.empty(); }
    size_t Bytes() const { return batch_.data.size(); }
    void SetLimits(size_t max_bytes, std::chrono::milliseconds max_delay);

  private:
    size_t max_bytes_;
    std::chrono::milliseconds max_delay_;
    Batch batch_;
    TimePoint first_added_{};
    uint64_t next_id_ = 1;
};

}  // namespace snowcdc
