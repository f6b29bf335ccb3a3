// Prometheus metrics registry and endpoint (see metrics.hpp).
#include "metrics.hpp"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace snowcdc {

namespace {

std::string LabelText(const MetricLabels &labels, const std::string &extra = {}) {
    std::string out;
    for (const auto &[k, v] : labels) {
        std::string escaped;
        for (char c : v) {
            if (c == '\\' || c == '"')
                escaped += '\\';
            if (c == '\n') {
                escaped += "\\n";
                continue;
            }
            escaped += c;
        }
        out += (out.empty() ? "" : ",") + k + "=\"" + escaped + "\"";
    }
    if (!extra.empty())
        out += (out.empty() ? "" : ",") + extra;
    return out.empty() ? std::string() : "{" + out + "}";
}

std::string Number(double v) {
    if (std::isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    std::ostringstream out;
    out.precision(17);
    out << v;
    return out.str();
}

}  // namespace

void Counter::Inc(double by) {
    std::lock_guard<std::mutex> lock(mutex_);
    value_ += by;
}

double Counter::Value() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return value_;
}

void Gauge::Set(double value) {
    std::lock_guard<std::mutex> lock(mutex_);
    value_ = value;
}

void Gauge::Add(double by) {
    std::lock_guard<std::mutex> lock(mutex_);
    value_ += by;
}

double Gauge::Value() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return value_;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
    std::sort(bounds_.begin(), bounds_.end());
    counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::Observe(double value) {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    ++counts_[i];
    sum_ += value;
    ++count_;
}

uint64_t Histogram::Count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
}

double Histogram::Sum() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return sum_;
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<uint64_t> out(counts_.size());
    uint64_t running = 0;
    for (size_t i = 0; i < counts_.size(); ++i)
        out[i] = running += counts_[i];
    return out;
}

MetricsRegistry::Family &MetricsRegistry::GetFamily(const std::string &name,
                                                    const std::string &help,
                                                    const std::string &type) {
    Family &family = families_[name];
    if (family.type.empty()) {
        family.type = type;
        family.help = help;
    } else if (family.type != type) {
        throw std::logic_error("metric " + name + " registered as " + family.type + " and " + type);
    }
    return family;
}

Counter &MetricsRegistry::GetCounter(const std::string &name, const std::string &help,
                                     const MetricLabels &labels) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto &slot = GetFamily(name, help, "counter").counters[LabelText(labels)];
    if (!slot)
        slot = std::make_unique<Counter>();
    return *slot;
}

Gauge &MetricsRegistry::GetGauge(const std::string &name, const std::string &help,
                                 const MetricLabels &labels) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto &slot = GetFamily(name, help, "gauge").gauges[LabelText(labels)];
    if (!slot)
        slot = std::make_unique<Gauge>();
    return *slot;
}

Histogram &MetricsRegistry::GetHistogram(const std::string &name, const std::string &help,
                                         const std::vector<double> &bounds,
                                         const MetricLabels &labels) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Histogram series keep their labels in a form that lets "le" be appended at render time.
    std::string key;
    for (const auto &[k, v] : labels)
        key += k + '\x1f' + v + '\x1e';
    auto &slot = GetFamily(name, help, "histogram").histograms[key];
    if (!slot)
        slot = std::make_unique<Histogram>(bounds);
    return *slot;
}

std::string MetricsRegistry::Render() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::ostringstream out;
    for (const auto &[name, family] : families_) {
        out << "# HELP " << name << ' ' << family.help << "\n# TYPE " << name << ' ' << family.type
            << '\n';
        for (const auto &[labels, c] : family.counters)
            out << name << labels << ' ' << Number(c->Value()) << '\n';
        for (const auto &[labels, g] : family.gauges)
            out << name << labels << ' ' << Number(g->Value()) << '\n';
        for (const auto &[key, h] : family.histograms) {
            MetricLabels labels;
            std::istringstream in(key);
            std::string pair;
            while (std::getline(in, pair, '\x1e')) {
                size_t sep = pair.find('\x1f');
                labels[pair.substr(0, sep)] = pair.substr(sep + 1);
            }
            std::vector<uint64_t> cumulative = h->CumulativeCounts();
            for (size_t i = 0; i < cumulative.size(); ++i) {
                double bound = i < h->Bounds().size() ? h->Bounds()[i] : INFINITY;
                out << name << "_bucket" << LabelText(labels, "le=\"" + Number(bound) + "\"") << ' '
                    << cumulative[i] << '\n';
            }
            out << name << "_sum" << LabelText(labels) << ' ' << Number(h->Sum()) << '\n';
            out << name << "_count" << LabelText(labels) << ' ' << h->Count() << '\n';
        }
    }
    return out.str();
}

MetricsRegistry &Metrics() {
    static MetricsRegistry registry;
    return registry;
}

struct MetricsServer::Impl {
    MetricsRegistry &registry;
    std::function<bool()> healthy;
    httplib::Server server;
    std::thread thread;
};

MetricsServer::MetricsServer(MetricsRegistry &registry, std::function<bool()> healthy)
    : impl_(new Impl{registry, std::move(healthy), {}, {}}) {}

MetricsServer::~MetricsServer() {
    Stop();
}

int MetricsServer::Start(const std::string &address, int port) {
    Impl *impl = impl_.get();
    impl->server.Get("/metrics", [impl](const httplib::Request &, httplib::Response &res) {
        res.set_content(impl->registry.Render(), "text/plain; version=0.0.4");
    });
    impl->server.Get("/healthz", [impl](const httplib::Request &, httplib::Response &res) {
        bool ok = !impl->healthy || impl->healthy();
        res.status = ok ? 200 : 503;
        res.set_content(ok ? "ok\n" : "unhealthy\n", "text/plain");
    });
    int bound = port == 0 ? impl->server.bind_to_any_port(address)
                          : (impl->server.bind_to_port(address, port) ? port : -1);
    if (bound <= 0)
        throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port) +
                                 " for /metrics; pick a free port with metrics_port or 0 = off");
    impl->thread = std::thread([impl] { impl->server.listen_after_bind(); });
    return bound;
}

void MetricsServer::Stop() {
    if (impl_ && impl_->thread.joinable()) {
        impl_->server.stop();
        impl_->thread.join();
    }
}

}  // namespace snowcdc
