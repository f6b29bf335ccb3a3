// Settings: one declarative table of every knob (name, type, default, description, reloadable,
// environment variable), read from the command line, the environment and a TOML file with the
// precedence CLI > env > file > default. The same table produces `--help` and the markdown
// reference for the docs. Modules contribute their own rows (see "Adding settings" below).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI {
class App;
}
namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace snowcdc {

enum class SettingType { kString, kInt, kBool, kDuration, kBytes };

// One row of the settings table.
//
// Adding settings from a module (for example the Snowpipe sink), in its own file:
//
//   std::vector<SettingSpec> snowpipe::SettingSpecs() {
//       return {
//           {"snowflake_account", SettingType::kString, "", "Account identifier, e.g. myorg-acct1",
//            false, "SNOWFLAKE_ACCOUNT"},
//           {"snowpipe_channels", SettingType::kInt, "4", "Channels written in parallel", false,
//            "SNOWCDC_SNOWPIPE_CHANNELS"},
//       };
//   }
//
// then list `snowpipe::SettingSpecs()` once in AllSettingSpecs() (sink_factory.cpp) and read the
// values with `settings.GetString("snowflake_account")`, `settings.GetInt("snowpipe_channels")`.
struct SettingSpec {
    std::string name;  // snake_case; also the TOML key; CLI flag is --name-with-dashes
    SettingType type = SettingType::kString;
    std::string default_value;              // text form, parsed like any other source; "" = unset
    std::string description;                // one sentence for --help and the docs
    bool reloadable = false;                // SIGHUP applies a new value without a restart
    std::string env;                        // environment variable, e.g. SNOWCDC_SLOT; "" = none
    std::vector<std::string> choices = {};  // allowed values of a string setting; empty = any
    bool secret = false;                    // value never printed (logs, `check`)
};

// A start-up or configuration error; the message names the setting, the source and the fix.
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Where values come from besides the defaults.
struct SettingSources {
    std::map<std::string, std::string> cli;  // setting name -> value given on the command line
    std::string config_file;                 // TOML file; "" = none
    std::function<const char *(const char *)> getenv;  // nullptr = the process environment
};

// Typed values of every setting, validated at load.
class Settings {
  public:
    Settings() = default;
    // Throws ConfigError listing every bad value at once.
    static Settings Load(std::vector<SettingSpec> specs, const SettingSources &sources);

    std::string GetString(const std::string &name) const;
    int64_t GetInt(const std::string &name) const;
    bool GetBool(const std::string &name) const;
    std::chrono::milliseconds GetDuration(const std::string &name) const;
    uint64_t GetBytes(const std::string &name) const;
    // The value as given, whatever its type ("" when unset).
    std::string Text(const std::string &name) const;
    // True when some source (or the default) gave the setting a value.
    bool IsSet(const std::string &name) const;
    // "command line", "environment (NAME)", "file (path)" or "default".
    std::string SourceOf(const std::string &name) const;

    // Names of non-reloadable settings whose value differs in `next` (they need a restart).
    std::vector<std::string> NeedRestart(const Settings &next) const;
    const std::vector<SettingSpec> &Specs() const { return specs_; }

  private:
    struct Value {
        std::string text;
        std::string source;
    };
    bool Resolve(const SettingSpec &spec, const SettingSources &sources, const toml::table &file,
                 std::vector<std::string> *problems);
    const SettingSpec &Spec(const std::string &name, SettingType type) const;
    const Value *Find(const std::string &name) const;

    std::vector<SettingSpec> specs_;
    std::map<std::string, Value> values_;
};

// Parsers shared by Settings and tests. Durations: "50ms", "1s", "2m", "1h", or a bare number
// of milliseconds. Byte sizes: "512", "64kB", "1MB", "2GB" (powers of 1024).
std::optional<std::chrono::milliseconds> ParseDuration(const std::string &text);
std::optional<uint64_t> ParseBytes(const std::string &text);
std::optional<bool> ParseBool(const std::string &text);
std::optional<int64_t> ParseInt(const std::string &text);

// Adds one --flag per setting to `app`; the values given land in *cli after parsing.
void AddSettingOptions(CLI::App &app, const std::vector<SettingSpec> &specs,
                       std::map<std::string, std::string> *cli);
// The reference table for the docs.
std::string SettingsMarkdown(const std::vector<SettingSpec> &specs);
const char *SettingTypeName(SettingType type);

}  // namespace snowcdc
