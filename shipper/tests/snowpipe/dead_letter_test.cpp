// Dead letters: one NDJSON line per record with the reason; no destination means an error.
#include "snowpipe/dead_letter.hpp"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_keys.hpp"

namespace snowcdc::snowpipe {
namespace {

TEST(DeadLetterWriter, WritesOneLinePerRecordWithTheReason) {
    std::string scratch = testing::WriteTempFile("x", "");
    std::string dir = scratch.substr(0, scratch.rfind('/')) + "/dead";
    DeadLetterWriter writer(dir);
    ASSERT_FALSE(
        writer.Write({"c_0", "0000000000000010/00000001", "too big", R"({"op":"c","v":1})"}));
    ASSERT_FALSE(writer.Write({"c_1", "0000000000000011/00000000", "rejected: \"x\"", ""}));
    EXPECT_EQ(writer.Written(), 2u);
    EXPECT_EQ(writer.Path().rfind(dir + "/dead-letters-", 0), 0u) << writer.Path();
    std::ifstream in(writer.Path());
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    auto first = nlohmann::json::parse(line);
    EXPECT_EQ(first["channel"], "c_0");
    EXPECT_EQ(first["offset_token"], "0000000000000010/00000001");
    EXPECT_EQ(first["reason"], "too big");
    EXPECT_EQ(first["record"]["v"], 1) << "the record is embedded as JSON, not as a string";
    ASSERT_TRUE(std::getline(in, line));
    auto second = nlohmann::json::parse(line);
    EXPECT_EQ(second["reason"], "rejected: \"x\"");
    EXPECT_TRUE(second["record"].is_null());
    EXPECT_FALSE(std::getline(in, line));
}

TEST(DeadLetterWriter, NoDirectoryIsAnErrorNamingTheSetting) {
    DeadLetterWriter writer("");
    std::optional<std::string> error = writer.Write({"c", "t", "r", "{}"});
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("SNOWCDC_SNOWPIPE_DEAD_LETTER_DIR"), std::string::npos) << *error;
    EXPECT_EQ(writer.Written(), 0u);
}

TEST(DeadLetterWriter, UnusableDirectoryIsAnErrorNamingTheFile) {
    std::string file = testing::WriteTempFile("plain-file", "x");
    DeadLetterWriter writer(file + "/dead");
    std::optional<std::string> error = writer.Write({"c", "t", "r", "{}"});
    ASSERT_TRUE(error);
    EXPECT_NE(error->find(file + "/dead"), std::string::npos) << *error;
}

}  // namespace
}  // namespace snowcdc::snowpipe
