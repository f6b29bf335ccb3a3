// Position tracker: decides which LSN may be reported to Postgres as flushed. A transaction's
// commit end_lsn is confirmed only once the sink's durable position covers the transaction's
// last forwarded record and everything before it; transactions with nothing forwarded (empty,
// skipped on replay, heartbeats) advance as soon as everything before them is durable.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "sink.hpp"

namespace snowcdc {

class PositionTracker {
  public:
    // `confirmed`: the slot's confirmed_flush_lsn at start; nothing lower is ever reported.
    explicit PositionTracker(uint64_t confirmed = 0) : confirmed_(confirmed) {}

    // The sink held this much at Open(): durable by definition, and replays at or below it
    // are skipped rather than forwarded.
    void SetDurableFloor(std::optional<StreamPosition> floor) { floor_ = floor; }
    // True for a record the sink already holds (or was already handed in this process).
    bool AlreadyForwarded(StreamPosition pos) const;

    void OnBegin();
    // A record handed to the batcher (inside a transaction or standalone).
    void OnForwarded(StreamPosition pos);
    // A record not forwarded because AlreadyForwarded(): its transaction still waits for it
    // to be durable (it may sit in the sink since before a reconnect).
    void OnSkipped(StreamPosition pos);
    // Ends the open transaction. Returns false for a replayed commit already tracked.
    bool OnCommit(uint64_t end_lsn, int64_t commit_ts_us);
    // A point outside any transaction that may be confirmed once everything before it is
    // durable: a non-transactional message's LSN, or a keepalive's WAL end when idle.
    void OnStandalone(uint64_t lsn);
    // The connection dropped: the open transaction will be replayed from its begin.
    void OnDisconnect() {
        in_transaction_ = false;
        open_last_.reset();
    }

    // Applies the sink's durable position; returns commit timestamps (µs) of transactions
    // that became durable now, for the commit-to-durable latency.
    std::vector<int64_t> Advance(std::optional<StreamPosition> durable);

    uint64_t Confirmed() const { return confirmed_; }
    // The slot's position after a reconnect; the tracker never moves below what it reported.
    void RaiseConfirmed(uint64_t lsn) { confirmed_ = lsn > confirmed_ ? lsn : confirmed_; }
    bool InTransaction() const { return in_transaction_; }
    // Every forwarded record is durable and every closed transaction confirmed.
    bool Settled(std::optional<StreamPosition> durable) const;
    std::optional<StreamPosition> LastForwarded() const { return last_forwarded_; }
    size_t PendingTransactions() const { return pending_.size(); }

  private:
    struct Entry {
        std::optional<StreamPosition> last;  // last record forwarded, none if nothing was
        uint64_t confirm_lsn = 0;
        int64_t commit_ts_us = 0;  // 0 for standalone points
    };
    bool Covered(std::optional<StreamPosition> pos, std::optional<StreamPosition> durable) const;

    uint64_t confirmed_;
    uint64_t highest_tracked_ = 0;  // highest confirm_lsn ever queued (replays fall below it)
    std::optional<StreamPosition> floor_;
    std::optional<StreamPosition> last_forwarded_;
    std::optional<StreamPosition> open_last_;
    bool in_transaction_ = false;
    std::deque<Entry> pending_;
};

}  // namespace snowcdc
