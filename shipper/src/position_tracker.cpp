// Position tracker (see position_tracker.hpp).
#include "position_tracker.hpp"

#include <algorithm>
#include <utility>

namespace snowcdc {

bool PositionTracker::AlreadyForwarded(StreamPosition pos) const {
    return (floor_ && pos <= *floor_) || (last_forwarded_ && pos <= *last_forwarded_);
}

void PositionTracker::OnBegin() {
    in_transaction_ = true;
    open_last_.reset();
}

void PositionTracker::OnForwarded(StreamPosition pos) {
    last_forwarded_ = pos;
    if (in_transaction_)
        open_last_ = pos;
    else
        pending_.push_back({pos, 0, 0});  // a standalone record confirms nothing by itself
}

void PositionTracker::OnSkipped(StreamPosition pos) {
    if (in_transaction_)
        open_last_ = pos;
}

bool PositionTracker::OnCommit(uint64_t end_lsn, int64_t commit_ts_us) {
    in_transaction_ = false;
    std::optional<StreamPosition> last = std::exchange(open_last_, std::nullopt);
    if (end_lsn <= std::max(highest_tracked_, confirmed_))
        return false;
    highest_tracked_ = end_lsn;
    pending_.push_back({last, end_lsn, commit_ts_us});
    return true;
}

void PositionTracker::OnStandalone(uint64_t lsn) {
    if (in_transaction_ || lsn <= std::max(highest_tracked_, confirmed_))
        return;
    highest_tracked_ = lsn;
    pending_.push_back({std::nullopt, lsn, 0});
}

bool PositionTracker::Covered(std::optional<StreamPosition> pos,
                              std::optional<StreamPosition> durable) const {
    if (!pos)
        return true;
    return (durable && *pos <= *durable) || (floor_ && *pos <= *floor_);
}

std::vector<int64_t> PositionTracker::Advance(std::optional<StreamPosition> durable) {
    std::vector<int64_t> newly_durable;
    while (!pending_.empty() && Covered(pending_.front().last, durable)) {
        const Entry &e = pending_.front();
        confirmed_ = std::max(confirmed_, e.confirm_lsn);
        if (e.commit_ts_us != 0)
            newly_durable.push_back(e.commit_ts_us);
        pending_.pop_front();
    }
    return newly_durable;
}

bool PositionTracker::Settled(std::optional<StreamPosition> durable) const {
    return pending_.empty() && Covered(last_forwarded_, durable);
}

}  // namespace snowcdc
