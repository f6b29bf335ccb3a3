// Replication stream helpers: plugin options parse into name/value pairs (a bare name means
// on, spaces are trimmed, malformed entries are configuration errors) and slot names follow
// Postgres's rules, so nothing unquoted reaches a replication command.
#include "replication_stream.hpp"

#include <gtest/gtest.h>

#include "settings.hpp"

namespace snowcdc {
namespace {

TEST(ReplicationStreamTest, PluginOptionsParse) {
    auto options = ParsePluginOptions("before=on,numeric-as-string, message-prefixes=a.b");
    ASSERT_EQ(options.size(), 3u);
    EXPECT_EQ(options[0], (std::pair<std::string, std::string>{"before", "on"}));
    EXPECT_EQ(options[1], (std::pair<std::string, std::string>{"numeric-as-string", "on"}));
    EXPECT_EQ(options[2], (std::pair<std::string, std::string>{"message-prefixes", "a.b"}));
    EXPECT_TRUE(ParsePluginOptions("").empty());
    EXPECT_THROW(ParsePluginOptions("=x"), ConfigError);
    EXPECT_THROW(ParsePluginOptions("a\"b=1"), ConfigError);
}

TEST(ReplicationStreamTest, QuotedValuesHoldCommasAndQuotes) {
    auto options = ParsePluginOptions(
        "include-tables='public.a, \"My Schema\".t',before, message-prefixes='app.x,it''s'");
    ASSERT_EQ(options.size(), 3u);
    EXPECT_EQ(options[0],
              (std::pair<std::string, std::string>{"include-tables", "public.a, \"My Schema\".t"}));
    EXPECT_EQ(options[1], (std::pair<std::string, std::string>{"before", "on"}));
    EXPECT_EQ(options[2], (std::pair<std::string, std::string>{"message-prefixes", "app.x,it's"}));
    try {
        ParsePluginOptions("include-tables='public.a,public.b");
        FAIL() << "an unclosed quote must be refused";
    } catch (const ConfigError &e) {
        EXPECT_NE(std::string(e.what()).find("not closed"), std::string::npos) << e.what();
    }
}

TEST(ReplicationStreamTest, SlotNamesFollowPostgresRules) {
    EXPECT_TRUE(ValidSlotName("snowcdc_1"));
    EXPECT_FALSE(ValidSlotName(""));
    EXPECT_FALSE(ValidSlotName("Upper"));
    EXPECT_FALSE(ValidSlotName("a-b"));
    EXPECT_FALSE(ValidSlotName("x; DROP"));
    EXPECT_FALSE(ValidSlotName(std::string(64, 'a')));
}

}  // namespace
}  // namespace snowcdc
