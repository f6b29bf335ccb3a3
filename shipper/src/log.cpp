// JSON-lines logging (see log.hpp).
#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace snowcdc {

namespace {

struct LogState {
    std::mutex mutex;
    nlohmann::json context = nlohmann::json::object();
    std::function<void(const std::string &)> writer;
};

LogState &State() {
    static LogState state;
    return state;
}

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char *LevelName(LogLevel level) {
    switch (level) {
        case LogLevel::kDebug:
            return "debug";
        case LogLevel::kInfo:
            return "info";
        case LogLevel::kWarning:
            return "warning";
        case LogLevel::kError:
            return "error";
    }
    return "info";
}

std::string UtcNow() {
    auto now = std::chrono::system_clock::now();
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch());
    std::time_t secs = static_cast<std::time_t>(us.count() / 1000000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%06lldZ",
                  static_cast<long long>(us.count() % 1000000));
    return buf;
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
    for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError})
        if (text == LevelName(level))
            return level;
    return std::nullopt;
}

void SetLogLevel(LogLevel level) {
    g_level.store(static_cast<int>(level));
}

void SetLogContext(const std::string &key, const std::string &value) {
    std::lock_guard<std::mutex> lock(State().mutex);
    State().context[key] = value;
}

void SetLogWriter(std::function<void(const std::string &line)> writer) {
    std::lock_guard<std::mutex> lock(State().mutex);
    State().writer = std::move(writer);
}

void Log(LogLevel level, std::string_view msg, const nlohmann::json &fields) {
    if (static_cast<int>(level) < g_level.load())
        return;
    nlohmann::json line = {{"ts", UtcNow()}, {"level", LevelName(level)}, {"msg", msg}};
    std::lock_guard<std::mutex> lock(State().mutex);
    for (const auto &[k, v] : State().context.items())
        line[k] = v;
    if (fields.is_object())
        for (const auto &[k, v] : fields.items())
            line[k] = v;
    // Replace invalid UTF-8 rather than throw: a log line must never take the shipper down.
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (State().writer) {
        State().writer(text);
        return;
    }
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace snowcdc
