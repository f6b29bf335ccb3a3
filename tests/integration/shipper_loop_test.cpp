// The shipper's loop against a sink that, like Snowpipe, learns of durability later than it
// accepts data: Postgres is told only what the sink has made durable (whole transactions,
// even when batches cut through them), and with the sink stalled the loop stops reading once
// the in-flight bound is reached, then resumes as durability returns.
#include <gtest/gtest.h>

#include <csignal>
#include <mutex>
#include <thread>

#include "core_settings.hpp"
#include "metrics.hpp"
#include "pg_cluster.hpp"
#include "shipper.hpp"
#include "shipper_harness.hpp"
#include "signals.hpp"

namespace snowcdc::testing {
namespace {

// Accepts batches at once; a record becomes durable only when the test releases it.
class LaggingSink : public Sink {
  public:
    std::optional<StreamPosition> Open() override { return std::nullopt; }
    void Submit(Batch batch) override {
        std::lock_guard<std::mutex> lock(mutex_);
        for (size_t i = 0; i < batch.records.size(); ++i)
            records_.push_back({batch.records[i].pos, batch.records[i].length + 1u});
    }
    size_t InFlightBytes() const override {
        std::lock_guard<std::mutex> lock(mutex_);
        size_t bytes = 0;
        for (const auto &r : records_)
            if (!durable_ || *durable_ < r.pos)
                bytes += r.bytes;
        return bytes;
    }
    std::optional<StreamPosition> DurablePosition() const override {
        std::lock_guard<std::mutex> lock(mutex_);
        return durable_;
    }
    std::optional<SinkError> Poll(std::chrono::steady_clock::time_point) override {
        return std::nullopt;
    }
    void Close() override {}

    void Release(StreamPosition upto) {
        std::lock_guard<std::mutex> lock(mutex_);
        durable_ = upto;
    }
    std::vector<StreamPosition> Submitted() const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<StreamPosition> out;
        for (const auto &r : records_)
            out.push_back(r.pos);
        return out;
    }

  private:
    struct Held {
        StreamPosition pos;
        size_t bytes;
    };
    mutable std::mutex mutex_;
    std::vector<Held> records_;
    std::optional<StreamPosition> durable_;
};

TEST(ShipperLoopTest, ConfirmsOnlyDurableTransactionsAndBoundsInFlightData) {
    TempCluster cluster;
    cluster.Exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
    std::map<std::string, std::string> cli = {
        {"conninfo", cluster.ConnInfo()}, {"slot", "s1"},
        {"status_interval", "50ms"},      {"batch_max_delay", "5ms"},
        {"batch_max_bytes", "300"},       {"max_in_flight_bytes", "2kB"},
        {"heartbeat_interval", "0"},      {"snapshot", "never"}};
    Settings settings = Settings::Load(
        CoreSettingSpecs(), {cli, "", [](const char *) -> const char * { return nullptr; }});
    auto owned = std::make_unique<LaggingSink>();
    LaggingSink *sink = owned.get();
    InstallSignalHandlers();
    Shipper shipper(settings, std::move(owned), nullptr);
    int exit_status = -1;
    std::thread loop([&] { exit_status = shipper.Run(); });

    auto confirmed = [&] {
        return LsnFromText(cluster.Query(
            "SELECT coalesce(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots"));
    };
    ASSERT_TRUE(WaitUntil([&] { return confirmed() != 0; }));
    uint64_t start = confirmed();
    // Three transactions of 3 rows; each batch (300 bytes) cuts through them.
    for (int txn = 0; txn < 3; ++txn)
        cluster.Exec("INSERT INTO t SELECT g, 'row' FROM generate_series(" +
                     std::to_string(txn * 10) + ", " + std::to_string(txn * 10 + 2) + ") g");
    ASSERT_TRUE(WaitUntil([&] { return sink->Submitted().size() == 9; }));
    std::vector<StreamPosition> pos = sink->Submitted();
    Gauge &reported = Metrics().GetGauge("snowcdc_confirmed_lsn", "");
    EXPECT_EQ(confirmed(), start) << "confirmed before anything was durable";

    sink->Release(pos[4]);  // all of the first transaction, part of the second
    ASSERT_TRUE(WaitUntil([&] { return confirmed() > pos[0].lsn; }));
    EXPECT_LT(confirmed(), pos[3].lsn) << "the half-durable second transaction was confirmed";
    EXPECT_LT(reported.Value(), static_cast<double>(pos[3].lsn));

    sink->Release(pos[8]);
    ASSERT_TRUE(WaitUntil([&] { return confirmed() > pos[8].lsn; }));

    // Stalled sink: the loop fills the in-flight window, then stops reading.
    cluster.Exec("INSERT INTO t SELECT g, repeat('z', 100) FROM generate_series(1000, 1999) g");
    ASSERT_TRUE(WaitUntil([&] { return sink->InFlightBytes() >= 2048; }));
    for (int i = 0; i < 20; ++i) {
        // Bound plus at most one batch and one record beyond it.
        EXPECT_LE(sink->InFlightBytes(), 2048u + 300u + 300u);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_LT(sink->Submitted().size(), 9u + 1000u);
    // Releasing as the loop submits lets the whole transaction through.
    ASSERT_TRUE(WaitUntil([&] {
        std::vector<StreamPosition> all = sink->Submitted();
        sink->Release(all.back());
        return all.size() == 9u + 1000u;
    }));
    ASSERT_TRUE(WaitUntil([&] { return confirmed() > sink->Submitted().back().lsn; }));

    std::raise(SIGTERM);
    loop.join();
    EXPECT_EQ(exit_status, 0);
}

}  // namespace
}  // namespace snowcdc::testing
