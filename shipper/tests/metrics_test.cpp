// Metrics: counters, gauges and histograms render in the Prometheus text format with their
// labels, kinds cannot be mixed, and the endpoint serves /metrics and /healthz.
#include "metrics.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>

namespace snowcdc {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistograms) {
    MetricsRegistry r;
    r.GetCounter("snowcdc_records_total", "Records", {{"op", "c"}}).Inc(3);
    r.GetCounter("snowcdc_records_total", "Records", {{"op", "c"}}).Inc();
    r.GetGauge("snowcdc_lag_bytes", "Lag").Set(42);
    Histogram &h = r.GetHistogram("snowcdc_latency_seconds", "Latency", {0.1, 1}, {{"sink", "x"}});
    h.Observe(0.05);
    h.Observe(0.5);
    h.Observe(5);
    std::string text = r.Render();
    EXPECT_NE(
        text.find("# TYPE snowcdc_records_total counter\nsnowcdc_records_total{op=\"c\"} 4\n"),
        std::string::npos)
        << text;
    EXPECT_NE(text.find("snowcdc_lag_bytes 42\n"), std::string::npos) << text;
    EXPECT_NE(text.find("snowcdc_latency_seconds_bucket{sink=\"x\",le=\"0.10000000000000001\"} 1"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("snowcdc_latency_seconds_bucket{sink=\"x\",le=\"1\"} 2"), std::string::npos)
        << text;
    EXPECT_NE(text.find("snowcdc_latency_seconds_bucket{sink=\"x\",le=\"+Inf\"} 3"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("snowcdc_latency_seconds_count{sink=\"x\"} 3"), std::string::npos) << text;
}

TEST(MetricsTest, OneNameOneKind) {
    MetricsRegistry r;
    r.GetCounter("x", "X");
    EXPECT_THROW(r.GetGauge("x", "X"), std::logic_error);
}

TEST(MetricsTest, EndpointServesMetricsAndHealth) {
    MetricsRegistry r;
    r.GetCounter("snowcdc_batches_total", "Batches").Inc(2);
    std::atomic<bool> healthy{true};
    MetricsServer server(r, [&] { return healthy.load(); });
    int port = server.Start("127.0.0.1", 0);
    httplib::Client client("127.0.0.1", port);
    auto metrics = client.Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->status, 200);
    EXPECT_NE(metrics->body.find("snowcdc_batches_total 2"), std::string::npos);
    EXPECT_EQ(client.Get("/healthz")->status, 200);
    healthy = false;
    EXPECT_EQ(client.Get("/healthz")->status, 503);
    server.Stop();
}

}  // namespace
}  // namespace snowcdc
