// Settings: loading, validation and rendering of the declarative settings table.
#include "settings.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>

namespace snowcdc {

namespace {

std::string Trim(const std::string &s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    size_t e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string Lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// Splits "64kB" into (64, "kb").
bool SplitNumberUnit(const std::string &text, uint64_t *number, std::string *unit) {
    std::string t = Trim(text);
    size_t i = 0;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])))
        ++i;
    if (i == 0 || i > 18)
        return false;
    *number = std::stoull(t.substr(0, i));
    *unit = Lower(Trim(t.substr(i)));
    return true;
}

const char *TypeHint(SettingType type) {
    switch (type) {
        case SettingType::kString:
            return "a string";
        case SettingType::kInt:
            return "an integer, e.g. 4";
        case SettingType::kBool:
            return "a boolean: true or false";
        case SettingType::kDuration:
            return "a duration, e.g. 50ms, 1s, 5m";
        case SettingType::kBytes:
            return "a byte size, e.g. 512kB, 1MB, 1048576";
    }
    return "a value";
}

// Returns an empty string when `text` is a valid value for `spec`, else what is wrong.
std::string Validate(const SettingSpec &spec, const std::string &text) {
    bool ok = true;
    switch (spec.type) {
        case SettingType::kString:
            break;
        case SettingType::kInt:
            ok = ParseInt(text).has_value();
            break;
        case SettingType::kBool:
            ok = ParseBool(text).has_value();
            break;
        case SettingType::kDuration:
            ok = ParseDuration(text).has_value();
            break;
        case SettingType::kBytes:
            ok = ParseBytes(text).has_value();
            break;
    }
    if (!ok)
        return std::string("is not ") + TypeHint(spec.type);
    if (!spec.choices.empty() &&
        std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
        std::string all;
        for (const auto &c : spec.choices)
            all += (all.empty() ? "" : ", ") + c;
        return "is not one of: " + all;
    }
    return {};
}

// TOML scalars as the text the other sources would give; arrays and tables are not settings.
std::optional<std::string> TomlValueText(const toml::node &node) {
    if (auto s = node.value_exact<std::string>())
        return *s;
    if (auto b = node.value_exact<bool>())
        return std::string(*b ? "true" : "false");
    if (auto i = node.value_exact<int64_t>())
        return std::to_string(*i);
    return std::nullopt;
}

std::string CliFlag(const std::string &name) {
    std::string flag = name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    std::replace(flag.begin(), flag.end(), '.', '-');
    return "--" + flag;
}

}  // namespace

std::optional<int64_t> ParseInt(const std::string &text) {
    std::string t = Trim(text);
    if (t.empty())
        return std::nullopt;
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(t.c_str(), &end, 10);
    if (errno != 0 || end == nullptr || *end != '\0')
        return std::nullopt;
    return static_cast<int64_t>(v);
}

std::optional<bool> ParseBool(const std::string &text) {
    std::string t = Lower(Trim(text));
    if (t == "true" || t == "on" || t == "yes" || t == "1")
        return true;
    if (t == "false" || t == "off" || t == "no" || t == "0")
        return false;
    return std::nullopt;
}

std::optional<std::chrono::milliseconds> ParseDuration(const std::string &text) {
    uint64_t n = 0;
    std::string unit;
    if (!SplitNumberUnit(text, &n, &unit))
        return std::nullopt;
    static const std::map<std::string, uint64_t> kUnits = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000}};
    auto it = kUnits.find(unit);
    if (it == kUnits.end())
        return std::nullopt;
    return std::chrono::milliseconds(static_cast<int64_t>(n * it->second));
}

std::optional<uint64_t> ParseBytes(const std::string &text) {
    uint64_t n = 0;
    std::string unit;
    if (!SplitNumberUnit(text, &n, &unit))
        return std::nullopt;
    static const std::map<std::string, uint64_t> kUnits = {
        {"", 1}, {"b", 1}, {"kb", 1ull << 10}, {"mb", 1ull << 20}, {"gb", 1ull << 30}};
    auto it = kUnits.find(unit);
    if (it == kUnits.end())
        return std::nullopt;
    return n * it->second;
}

namespace {

toml::table ParseConfigFile(const std::string &path) {
    if (path.empty())
        return {};
    try {
        return toml::parse_file(path);
    } catch (const toml::parse_error &e) {
        std::ostringstream msg;
        msg << "config file " << path << ": " << e.description() << " at line "
            << e.source().begin.line << "; fix the TOML syntax there";
        throw ConfigError(msg.str());
    }
}

// The file's top-level keys that name no setting (typos must not pass silently).
void CheckUnknownKeys(const toml::table &file, const std::vector<SettingSpec> &specs,
                      const std::string &path, std::vector<std::string> *problems) {
    for (const auto &[key, node] : file) {
        std::string name(key.str());
        bool known = std::any_of(specs.begin(), specs.end(), [&](const SettingSpec &s) {
            return s.name == name || s.name.rfind(name + ".", 0) == 0;
        });
        if (!known)
            problems->push_back("config file " + path + ": unknown setting '" + name +
                                "'; remove it or see `snowcdc-shipper settings`");
    }
}

}  // namespace

// Finds the value of one setting by precedence; false when a source holds a bad value.
bool Settings::Resolve(const SettingSpec &spec, const SettingSources &sources,
                       const toml::table &file, std::vector<std::string> *problems) {
    auto getenv = sources.getenv ? sources.getenv : [](const char *n) { return std::getenv(n); };
    Value value;
    if (auto it = sources.cli.find(spec.name); it != sources.cli.end()) {
        value = {it->second, "command line (" + CliFlag(spec.name) + ")"};
    } else if (const char *env = spec.env.empty() ? nullptr : getenv(spec.env.c_str())) {
        value = {env, "environment (" + spec.env + ")"};
    } else if (auto node = file.at_path(spec.name)) {
        std::optional<std::string> text = TomlValueText(*node.node());
        if (!text) {
            problems->push_back("setting " + spec.name + " in " + sources.config_file +
                                " must be a string, integer or boolean; write it as one");
            return false;
        }
        value = {*text, "file (" + sources.config_file + ")"};
    } else if (!spec.default_value.empty()) {
        value = {spec.default_value, "default"};
    } else {
        return true;
    }
    std::string problem = Validate(spec, value.text);
    if (!problem.empty()) {
        problems->push_back("setting " + spec.name + ": '" +
                            (spec.secret ? std::string("***") : value.text) + "' from " +
                            value.source + " " + problem + "; fix it there");
        return false;
    }
    values_[spec.name] = value;
    return true;
}

Settings Settings::Load(std::vector<SettingSpec> specs, const SettingSources &sources) {
    Settings settings;
    settings.specs_ = std::move(specs);
    toml::table file = ParseConfigFile(sources.config_file);
    std::vector<std::string> problems;
    for (const auto &spec : settings.specs_)
        settings.Resolve(spec, sources, file, &problems);
    CheckUnknownKeys(file, settings.specs_, sources.config_file, &problems);
    if (!problems.empty()) {
        std::string all;
        for (const auto &p : problems)
            all += (all.empty() ? "" : "\n") + p;
        throw ConfigError(all);
    }
    return settings;
}

const SettingSpec &Settings::Spec(const std::string &name, SettingType type) const {
    for (const auto &spec : specs_) {
        if (spec.name == name) {
            if (spec.type != type)
                throw ConfigError("setting " + name + " is " + SettingTypeName(spec.type) +
                                  ", read as " + SettingTypeName(type) + " (a bug in the caller)");
            return spec;
        }
    }
    throw ConfigError("no setting named " + name + " (a bug: add it to a settings table)");
}

const Settings::Value *Settings::Find(const std::string &name) const {
    auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
}

std::string Settings::GetString(const std::string &name) const {
    Spec(name, SettingType::kString);
    const Value *v = Find(name);
    return v ? v->text : std::string();
}

int64_t Settings::GetInt(const std::string &name) const {
    Spec(name, SettingType::kInt);
    const Value *v = Find(name);
    return v ? *ParseInt(v->text) : 0;
}

bool Settings::GetBool(const std::string &name) const {
    Spec(name, SettingType::kBool);
    const Value *v = Find(name);
    return v ? *ParseBool(v->text) : false;
}

std::chrono::milliseconds Settings::GetDuration(const std::string &name) const {
    Spec(name, SettingType::kDuration);
    const Value *v = Find(name);
    return v ? *ParseDuration(v->text) : std::chrono::milliseconds(0);
}

uint64_t Settings::GetBytes(const std::string &name) const {
    Spec(name, SettingType::kBytes);
    const Value *v = Find(name);
    return v ? *ParseBytes(v->text) : 0;
}

std::string Settings::Text(const std::string &name) const {
    const Value *v = Find(name);
    return v ? v->text : std::string();
}

bool Settings::IsSet(const std::string &name) const {
    return Find(name) != nullptr;
}

std::string Settings::SourceOf(const std::string &name) const {
    const Value *v = Find(name);
    return v ? v->source : "unset";
}

std::vector<std::string> Settings::NeedRestart(const Settings &next) const {
    std::vector<std::string> names;
    for (const auto &spec : specs_) {
        if (spec.reloadable)
            continue;
        const Value *a = Find(spec.name);
        const Value *b = next.Find(spec.name);
        if ((a == nullptr) != (b == nullptr) || (a && b && a->text != b->text))
            names.push_back(spec.name);
    }
    return names;
}

const char *SettingTypeName(SettingType type) {
    switch (type) {
        case SettingType::kString:
            return "string";
        case SettingType::kInt:
            return "integer";
        case SettingType::kBool:
            return "boolean";
        case SettingType::kDuration:
            return "duration";
        case SettingType::kBytes:
            return "bytes";
    }
    return "?";
}

void AddSettingOptions(CLI::App &app, const std::vector<SettingSpec> &specs,
                       std::map<std::string, std::string> *cli) {
    for (const auto &spec : specs) {
        std::string help = spec.description;
        if (!spec.default_value.empty())
            help += " [default: " + spec.default_value + "]";
        if (!spec.env.empty())
            help += " [env: " + spec.env + "]";
        std::string name = spec.name;
        app.add_option_function<std::string>(
               CliFlag(spec.name), [cli, name](const std::string &v) { (*cli)[name] = v; }, help)
            ->type_name(SettingTypeName(spec.type))
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
            ->group("Settings");
    }
}

std::string SettingsMarkdown(const std::vector<SettingSpec> &specs) {
    std::ostringstream out;
    out << "| Setting | Environment | Type | Default | Reload | Description |\n"
        << "|---|---|---|---|---|---|\n";
    for (const auto &spec : specs) {
        std::string description = spec.description;
        if (!spec.choices.empty()) {
            description +=
                description.empty() || description.back() == '.' ? " One of:" : ". One of:";
            for (const auto &c : spec.choices)
                description += " `" + c + "`";
            description += ".";
        }
        out << "| `" << spec.name << "` | " << (spec.env.empty() ? "" : "`" + spec.env + "`")
            << " | " << SettingTypeName(spec.type) << " | "
            << (spec.default_value.empty() ? "" : "`" + spec.default_value + "`") << " | "
            << (spec.reloadable ? "yes" : "no") << " | " << description << " |\n";
    }
    return out.str();
}

}  // namespace snowcdc
