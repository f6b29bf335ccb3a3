// Settings: typed parsing, precedence CLI > env > file > default, every bad value reported
// with its source, unknown file keys rejected, reload classification, markdown reference.
#include "settings.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "core_settings.hpp"

namespace snowcdc {
namespace {

std::vector<SettingSpec> Specs() {
    return {
        {"slot", SettingType::kString, "snowcdc", "Slot", false, "T_SLOT"},
        {"batch_max_bytes", SettingType::kBytes, "1MB", "Batch size", true, "T_BATCH"},
        {"batch_max_delay", SettingType::kDuration, "50ms", "Batch age", true, "T_DELAY"},
        {"channels", SettingType::kInt, "4", "Channels", false, "T_CHANNELS"},
        {"create_slot", SettingType::kBool, "true", "Create", false, "T_CREATE"},
        {"sink", SettingType::kString, "a", "Sink", false, "T_SINK", {"a", "b"}},
        {"token", SettingType::kString, "", "Secret", false, "T_TOKEN", {}, true},
    };
}

struct FakeEnv {
    std::map<std::string, std::string> vars;
    std::function<const char *(const char *)> Fn() {
        return [this](const char *n) -> const char * {
            auto it = vars.find(n);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};

std::string WriteToml(const std::string &text) {
    char path[] = "/tmp/settings_test_XXXXXX.toml";
    int fd = mkstemps(path, 5);
    EXPECT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << text;
    return path;
}

TEST(SettingsTest, DefaultsAreTyped) {
    FakeEnv env;
    Settings s = Settings::Load(Specs(), {{}, "", env.Fn()});
    EXPECT_EQ(s.GetString("slot"), "snowcdc");
    EXPECT_EQ(s.GetBytes("batch_max_bytes"), 1048576u);
    EXPECT_EQ(s.GetDuration("batch_max_delay"), std::chrono::milliseconds(50));
    EXPECT_EQ(s.GetInt("channels"), 4);
    EXPECT_TRUE(s.GetBool("create_slot"));
    EXPECT_FALSE(s.IsSet("token"));
    EXPECT_EQ(s.SourceOf("slot"), "default");
}

TEST(SettingsTest, PrecedenceIsCliThenEnvThenFileThenDefault) {
    std::string file = WriteToml("slot = \"from_file\"\nchannels = 7\nbatch_max_delay = \"2s\"\n");
    FakeEnv env;
    env.vars["T_SLOT"] = "from_env";
    env.vars["T_CHANNELS"] = "9";
    Settings s = Settings::Load(Specs(), {{{"slot", "from_cli"}}, file, env.Fn()});
    EXPECT_EQ(s.GetString("slot"), "from_cli");
    EXPECT_EQ(s.GetInt("channels"), 9);
    EXPECT_EQ(s.GetDuration("batch_max_delay"), std::chrono::milliseconds(2000));
    EXPECT_EQ(s.GetBytes("batch_max_bytes"), 1048576u);
    EXPECT_EQ(s.SourceOf("channels"), "environment (T_CHANNELS)");
    EXPECT_EQ(s.SourceOf("batch_max_delay"), "file (" + file + ")");
    std::remove(file.c_str());
}

TEST(SettingsTest, EveryBadValueIsReportedWithItsSource) {
    FakeEnv env;
    env.vars["T_BATCH"] = "lots";
    env.vars["T_TOKEN"] = "hunter2";
    try {
        Settings::Load(Specs(), {{{"channels", "x"}, {"sink", "c"}}, "", env.Fn()});
        FAIL() << "expected ConfigError";
    } catch (const ConfigError &e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("setting batch_max_bytes: 'lots' from environment (T_BATCH)"),
                  std::string::npos)
            << msg;
        EXPECT_NE(msg.find("setting channels: 'x' from command line (--channels)"),
                  std::string::npos)
            << msg;
        EXPECT_NE(msg.find("is not one of: a, b"), std::string::npos) << msg;
        EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
    }
}

TEST(SettingsTest, UnknownFileKeyIsAnError) {
    std::string file = WriteToml("slto = \"typo\"\n");
    FakeEnv env;
    EXPECT_THROW(Settings::Load(Specs(), {{}, file, env.Fn()}), ConfigError);
    std::remove(file.c_str());
}

TEST(SettingsTest, BrokenTomlNamesTheFile) {
    std::string file = WriteToml("slot = \n");
    FakeEnv env;
    try {
        Settings::Load(Specs(), {{}, file, env.Fn()});
        FAIL() << "expected ConfigError";
    } catch (const ConfigError &e) {
        EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    }
    std::remove(file.c_str());
}

TEST(SettingsTest, WrongTypedGetterIsRejected) {
    FakeEnv env;
    Settings s = Settings::Load(Specs(), {{}, "", env.Fn()});
    EXPECT_THROW(s.GetInt("slot"), ConfigError);
    EXPECT_THROW(s.GetString("no_such_setting"), ConfigError);
}

TEST(SettingsTest, NeedRestartListsOnlyNonReloadableChanges) {
    FakeEnv env;
    Settings a = Settings::Load(Specs(), {{}, "", env.Fn()});
    Settings b =
        Settings::Load(Specs(), {{{"batch_max_bytes", "2MB"}, {"channels", "8"}}, "", env.Fn()});
    EXPECT_EQ(a.NeedRestart(b), std::vector<std::string>{"channels"});
}

TEST(SettingsTest, ParsersAcceptUnitsAndRejectGarbage) {
    EXPECT_EQ(ParseBytes("64kB"), 65536u);
    EXPECT_EQ(ParseBytes("2GB"), 2147483648u);
    EXPECT_EQ(ParseBytes("12"), 12u);
    EXPECT_FALSE(ParseBytes("12 parsecs"));
    EXPECT_FALSE(ParseBytes("-1"));
    EXPECT_EQ(ParseDuration("1h"), std::chrono::milliseconds(3600000));
    EXPECT_EQ(ParseDuration("250"), std::chrono::milliseconds(250));
    EXPECT_FALSE(ParseDuration("soon"));
    EXPECT_EQ(ParseBool("off"), false);
    EXPECT_FALSE(ParseBool("maybe"));
    EXPECT_FALSE(ParseInt("4x"));
}

// The last of repeated flags wins, so wrappers can append overrides.
TEST(SettingsTest, CommandLineFlagsFeedTheCliSource) {
    CLI::App app;
    std::map<std::string, std::string> cli;
    AddSettingOptions(app, Specs(), &cli);
    const char *argv[] = {"prog", "--batch-max-bytes", "4MB", "--slot", "s0", "--slot", "s1"};
    app.parse(7, const_cast<char **>(argv));
    FakeEnv env;
    Settings s = Settings::Load(Specs(), {cli, "", env.Fn()});
    EXPECT_EQ(s.GetBytes("batch_max_bytes"), 4u << 20);
    EXPECT_EQ(s.GetString("slot"), "s1");
}

TEST(SettingsTest, CoreTableLoadsAndRendersMarkdown) {
    FakeEnv env;
    Settings s = Settings::Load(CoreSettingSpecs(), {{}, "", env.Fn()});
    EXPECT_EQ(s.GetString("sink"), "ndjson-stdout");
    std::string md = SettingsMarkdown(CoreSettingSpecs());
    EXPECT_NE(
        md.find("| `batch_max_delay` | `SNOWCDC_BATCH_MAX_DELAY` | duration | `50ms` | yes |"),
        std::string::npos)
        << md;
}

}  // namespace
}  // namespace snowcdc
