// A small Prometheus metrics registry (counters, gauges, histograms with labels) that every
// module registers into, and the HTTP endpoint serving /metrics and /healthz on a local
// port. Metric objects live as long as the registry; updates are thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace snowcdc {

using MetricLabels = std::map<std::string, std::string>;

class Counter {
  public:
    void Inc(double by = 1.0);
    double Value() const;

  private:
    mutable std::mutex mutex_;
    double value_ = 0;
};

class Gauge {
  public:
    void Set(double value);
    void Add(double by);
    double Value() const;

  private:
    mutable std::mutex mutex_;
    double value_ = 0;
};

class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);
    void Observe(double value);
    uint64_t Count() const;
    double Sum() const;
    // Cumulative count of observations <= bounds[i]; the last entry is +Inf.
    std::vector<uint64_t> CumulativeCounts() const;
    const std::vector<double> &Bounds() const { return bounds_; }

  private:
    mutable std::mutex mutex_;
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_;  // per bucket, plus one for +Inf
    double sum_ = 0;
    uint64_t count_ = 0;
};

class MetricsRegistry {
  public:
    // Returns the series (created on first use). The same name must keep the same kind.
    Counter &GetCounter(const std::string &name, const std::string &help,
                        const MetricLabels &labels = {});
    Gauge &GetGauge(const std::string &name, const std::string &help,
                    const MetricLabels &labels = {});
    Histogram &GetHistogram(const std::string &name, const std::string &help,
                            const std::vector<double> &bounds, const MetricLabels &labels = {});
    // Prometheus text exposition format 0.0.4.
    std::string Render() const;

  private:
    struct Family {
        std::string help;
        std::string type;
        std::map<std::string, std::unique_ptr<Counter>> counters;
        std::map<std::string, std::unique_ptr<Gauge>> gauges;
        std::map<std::string, std::unique_ptr<Histogram>> histograms;
    };
    Family &GetFamily(const std::string &name, const std::string &help, const std::string &type);

    mutable std::mutex mutex_;
    std::map<std::string, Family> families_;
};

// The process-wide registry the shipper's modules register into.
MetricsRegistry &Metrics();

// Serves GET /metrics and GET /healthz (200 "ok" while `healthy()` is true, else 503) from a
// background thread.
class MetricsServer {
  public:
    MetricsServer(MetricsRegistry &registry, std::function<bool()> healthy);
    ~MetricsServer();
    MetricsServer(const MetricsServer &) = delete;
    MetricsServer &operator=(const MetricsServer &) = delete;

    // Binds address:port (port 0 = any free port) and starts serving; returns the bound port.
    // Throws std::runtime_error naming the address when the bind fails.
    int Start(const std::string &address, int port);
    void Stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace snowcdc
