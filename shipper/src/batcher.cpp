// Batcher (see batcher.hpp).
#include "batcher.hpp"

#include <algorithm>
#include <utility>

namespace snowcdc {

namespace {

constexpr size_t kReserveLimit = size_t{64} << 20;

}  // namespace

Batcher::Batcher(size_t max_bytes, std::chrono::milliseconds max_delay)
    : max_bytes_(max_bytes), max_delay_(max_delay) {}

void Batcher::Add(std::string_view text, RecordMeta meta, TimePoint now) {
    if (batch_.records.empty()) {
        first_added_ = now;
        // One allocation instead of a doubling series of copies; pages of it that a small
        // batch never touches are never resident (a buffer this size is a mapping of its own).
        batch_.data.reserve(std::min(max_bytes_, kReserveLimit));
    }
    meta.offset = static_cast<uint32_t>(batch_.data.size());
    meta.length = static_cast<uint32_t>(text.size());
    batch_.data.append(text);
    batch_.data.push_back('\n');
    batch_.records.push_back(meta);
}

bool Batcher::Ready(TimePoint now) const {
    if (Empty())
        return false;
    // Offsets are 32-bit: never let a batch approach 4 GiB whatever the settings say.
    constexpr size_t kHardLimit = size_t{1} << 31;
    return batch_.data.size() >= max_bytes_ || batch_.data.size() >= kHardLimit ||
           now >= first_added_ + max_delay_;
}

std::optional<Batcher::TimePoint> Batcher::Deadline() const {
    if (Empty())
        return std::nullopt;
    return first_added_ + max_delay_;
}

Batch Batcher::Take() {
    Batch out = std::exchange(batch_, Batch{});
    out.id = next_id_++;
    return out;
}

void Batcher::SetLimits(size_t max_bytes, std::chrono::milliseconds max_delay) {
    max_bytes_ = max_bytes;
    max_delay_ = max_delay;
}

}  // namespace snowcdc
