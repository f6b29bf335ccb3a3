// Logging: every line is one JSON object with ts, level, msg, the process context and the
// call's fields; lines below the level are dropped.
#include "log.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace snowcdc {
namespace {

TEST(LogTest, LinesAreJsonWithContextAndFields) {
    std::vector<std::string> lines;
    SetLogWriter([&](const std::string &line) { lines.push_back(line); });
    SetLogContext("slot", "s1");
    LogInfo("batch submitted", {{"batch", 7}, {"table", "public.t"}});
    LogDebug("not shown at info");
    SetLogWriter(nullptr);
    ASSERT_EQ(lines.size(), 1u);
    auto j = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(j["level"], "info");
    EXPECT_EQ(j["msg"], "batch submitted");
    EXPECT_EQ(j["slot"], "s1");
    EXPECT_EQ(j["batch"], 7);
    EXPECT_TRUE(j.contains("ts"));
}

TEST(LogTest, LevelsParseAndFilter) {
    EXPECT_EQ(ParseLogLevel("warning"), LogLevel::kWarning);
    EXPECT_FALSE(ParseLogLevel("loud").has_value());
    std::vector<std::string> lines;
    SetLogWriter([&](const std::string &line) { lines.push_back(line); });
    SetLogLevel(LogLevel::kError);
    LogWarning("dropped");
    LogError("kept", {{"table", "public.t"}});
    SetLogLevel(LogLevel::kInfo);
    SetLogWriter(nullptr);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(lines[0])["table"], "public.t");
}

TEST(LogTest, InvalidUtf8IsReplacedNotThrown) {
    std::vector<std::string> lines;
    SetLogWriter([&](const std::string &line) { lines.push_back(line); });
    LogInfo("bad \xff byte");
    SetLogWriter(nullptr);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NO_THROW(nlohmann::json::parse(lines[0]));
}

}  // namespace
}  // namespace snowcdc
