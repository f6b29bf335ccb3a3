// JSON-lines logging to stderr: one object per line with ts, level, msg, the process-wide
// context (for example the slot) and the fields of the call (channel, table, batch, ...).
// Thread-safe; the level is changed on SIGHUP by the main loop.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace snowcdc {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

std::optional<LogLevel> ParseLogLevel(std::string_view text);
void SetLogLevel(LogLevel level);
// A field added to every following line, e.g. SetLogContext("slot", "snowcdc").
void SetLogContext(const std::string &key, const std::string &value);
// Where lines go (default: stderr); tests capture them.
void SetLogWriter(std::function<void(const std::string &line)> writer);

void Log(LogLevel level, std::string_view msg, const nlohmann::json &fields = nullptr);
inline void LogDebug(std::string_view msg, const nlohmann::json &fields = nullptr) {
    Log(LogLevel::kDebug, msg, fields);
}
inline void LogInfo(std::string_view msg, const nlohmann::json &fields = nullptr) {
    Log(LogLevel::kInfo, msg, fields);
}
inline void LogWarning(std::string_view msg, const nlohmann::json &fields = nullptr) {
    Log(LogLevel::kWarning, msg, fields);
}
inline void LogError(std::string_view msg, const nlohmann::json &fields = nullptr) {
    Log(LogLevel::kError, msg, fields);
}

}  // namespace snowcdc
