// The wire format without I/O: offset tokens, URLs, both answer forms, classification.
#include "snowpipe/protocol.hpp"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

namespace snowcdc::snowpipe {
namespace {

HttpResponse Answer(long status, std::string body = "") {
    HttpResponse response;
    response.transport = TransportStatus::kOk;
    response.status = status;
    response.body = std::move(body);
    return response;
}

Outcome ClassifyBody(long status, const std::string &body) {
    return Classify(Answer(status, body), ParseErrorBody(body));
}

TEST(OffsetToken, FixedWidthAndRoundTrip) {
    EXPECT_EQ(FormatOffsetToken({0x16B3F80, 7}), "00000000016b3f80/00000007");
    EXPECT_EQ(FormatOffsetToken({UINT64_MAX, UINT32_MAX}), "ffffffffffffffff/ffffffff");
    StreamPosition pos{0x1234567890ULL, 42};
    EXPECT_EQ(ParseOffsetToken(FormatOffsetToken(pos)), pos);
    EXPECT_FALSE(ParseOffsetToken("16B3F80/7"));
    EXPECT_FALSE(ParseOffsetToken("00000000016B3F80/00000007")) << "upper case is not ours";
    EXPECT_FALSE(ParseOffsetToken("00000000016b3f80-00000007"));
}

TEST(OffsetToken, StringOrderIsStreamOrder) {
    std::mt19937_64 random(7);
    std::vector<StreamPosition> positions;
    for (int i = 0; i < 2000; ++i) {
        positions.push_back(
            {random() >> (random() % 64), static_cast<uint32_t>(random() >> (32 + random() % 32))});
    }
    for (size_t i = 1; i < positions.size(); ++i) {
        const StreamPosition &a = positions[i - 1];
        const StreamPosition &b = positions[i];
        EXPECT_EQ(a < b, FormatOffsetToken(a) < FormatOffsetToken(b));
    }
}

TEST(Urls, AccountHostAndIngestHostNormalisation) {
    EXPECT_EQ(AccountUrl("MyOrg-Acct_1"), "https://myorg-acct-1.snowflakecomputing.com");
    EXPECT_EQ(NormalizeIngestHost("  \"ABC_DEF.snowflakecomputing.com\"\n"),
              "https://abc-def.snowflakecomputing.com");
    EXPECT_EQ(NormalizeIngestHost("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    EXPECT_EQ(PercentEncode("MY DB/ü"), "MY%20DB%2F%C3%BC");
    EXPECT_EQ(PercentEncode("00000000016b3f80/00000007"), "00000000016b3f80%2F00000007");
}

TEST(Answers, HostnameBothForms) {
    EXPECT_EQ(ParseHostnameAnswer(R"({"hostname":"Ing_1.example.com"})"),
              "https://ing-1.example.com");
    EXPECT_EQ(ParseHostnameAnswer("ing-1.example.com"), "https://ing-1.example.com");
    EXPECT_EQ(ParseHostnameAnswer("\"ing-1.example.com\""), "https://ing-1.example.com");
    EXPECT_FALSE(ParseHostnameAnswer("{}"));
    EXPECT_FALSE(ParseHostnameAnswer(""));
}

TEST(Answers, TokenBothForms) {
    EXPECT_EQ(ParseTokenAnswer(R"({"token":"ver:1-hint:abc"})"), "ver:1-hint:abc");
    EXPECT_EQ(ParseTokenAnswer("ver:1-hint:abc\n"), "ver:1-hint:abc");
    EXPECT_FALSE(ParseTokenAnswer(R"({"nope":1})"));
}

TEST(Answers, ErrorBodiesThreeForms) {
    ApiError a = ParseErrorBody(R"({"code":"ERR_X","message":"m"})");
    EXPECT_EQ(a.code, "ERR_X");
    EXPECT_EQ(a.message, "m");
    ApiError b = ParseErrorBody(R"({"error_code":391902,"message":"accept"})");
    EXPECT_EQ(b.code, "391902");
    ApiError c = ParseErrorBody(R"("ERR_GENERAL_EXCEPTION_RETRY_REQUEST")");
    EXPECT_EQ(c.code, "ERR_GENERAL_EXCEPTION_RETRY_REQUEST");
    ApiError d = ParseErrorBody("<html>bad gateway</html>");
    EXPECT_EQ(d.code, "");
    EXPECT_EQ(d.message, "<html>bad gateway</html>");
}

TEST(Answers, ChannelStatusBothForms) {
    auto observed = ParseOpenAnswer(
        R"({"next_continuation_token":"3_10","channel_status":{"channel_status_code":"SUCCESS",
            "last_committed_offset_token":null,"rows_errors":2,"last_error_message":"bad"}})");
    ASSERT_TRUE(observed);
    EXPECT_EQ(observed->continuation_token, "3_10");
    EXPECT_TRUE(observed->status.Usable());
    EXPECT_FALSE(observed->status.last_committed_offset_token);
    EXPECT_EQ(observed->status.rows_error_count, 2);
    auto documented = ParseBulkStatusAnswer(
        R"({"channel_statuses":{"c_0":{"channel_status_code":"ACTIVE",
            "last_committed_offset_token":"0000000000000001/00000000","rows_error_count":5,
            "last_error_offset_upper_bound":"0000000000000001/00000000"},
            "c_1":{"channel_status_code":"ERR_CHANNEL_MUST_BE_REOPENED"}}})");
    ASSERT_TRUE(documented);
    EXPECT_TRUE(documented->at("c_0").Usable());
    EXPECT_EQ(documented->at("c_0").last_committed_offset_token, "0000000000000001/00000000");
    EXPECT_EQ(documented->at("c_0").rows_error_count, 5);
    EXPECT_FALSE(documented->at("c_1").Usable());
    EXPECT_EQ(documented->count("c_2"), 0u);
    EXPECT_FALSE(ParseBulkStatusAnswer("[]"));
}

TEST(Answers, AppendWithAndWithoutStatusCode) {
    auto plain = ParseAppendAnswer(R"({"next_continuation_token":"1_5"})");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->status_code, 0);
    auto coded = ParseAppendAnswer(
        R"({"next_continuation_token":"1_5","status_code":0,"message":"Success"})");
    ASSERT_TRUE(coded);
    EXPECT_EQ(coded->continuation_token, "1_5");
    EXPECT_FALSE(ParseAppendAnswer(R"({"status_code":0})"));
}

TEST(Classify, TransportFailures) {
    HttpResponse response;
    response.transport = TransportStatus::kConnectFailed;
    EXPECT_EQ(Classify(response, {}), Outcome::kRetry);
    response.transport = TransportStatus::kConnectionLost;
    EXPECT_EQ(Classify(response, {}), Outcome::kUnknownOutcome);
    response.transport = TransportStatus::kTimeout;
    EXPECT_EQ(Classify(response, {}), Outcome::kUnknownOutcome);
    response.transport = TransportStatus::kLocalError;
    EXPECT_EQ(Classify(response, {}), Outcome::kFatal);
}

TEST(Classify, StatusesAndCodes) {
    EXPECT_EQ(ClassifyBody(200, "{}"), Outcome::kSuccess);
    EXPECT_EQ(ClassifyBody(401, R"({"code":"390303"})"), Outcome::kRefreshToken);
    EXPECT_EQ(ClassifyBody(408, ""), Outcome::kRetry);
    EXPECT_EQ(ClassifyBody(429, ""), Outcome::kRetry);
    EXPECT_EQ(ClassifyBody(503, R"("ERR_GENERAL_EXCEPTION_RETRY_REQUEST")"), Outcome::kRetry);
    EXPECT_EQ(ClassifyBody(500, "oops"), Outcome::kRetry);
    EXPECT_EQ(ClassifyBody(409, R"({"code":"ERR_OPEN_CHANNEL_IN_PROGRESS"})"), Outcome::kRetry);
    EXPECT_EQ(ClassifyBody(409, R"({"code":"ERR_SOMETHING"})"), Outcome::kReopen);
    EXPECT_EQ(ClassifyBody(400, R"({"code":"STALE_CONTINUATION_TOKEN_SEQUENCER"})"),
              Outcome::kReopen);
    EXPECT_EQ(ClassifyBody(400, R"({"error_code":"ERR_CHANNEL_MUST_BE_REOPENED_DUE_TO_X"})"),
              Outcome::kReopen);
    EXPECT_EQ(ClassifyBody(400, R"("ERR_CHANNEL_HAS_INVALID_ROW_SEQUENCER")"), Outcome::kReopen);
    EXPECT_EQ(ClassifyBody(400, R"({"code":"ERR_CHANNEL_HAS_INVALID_CLIENT_SEQUENCER"})"),
              Outcome::kReopen);
    EXPECT_EQ(ClassifyBody(400, R"({"code":"STALE_PIPE_CACHE"})"), Outcome::kReopen);
    EXPECT_EQ(ClassifyBody(404, R"({"code":"ERR_PIPE_DOES_NOT_EXIST_OR_NOT_AUTHORIZED"})"),
              Outcome::kFatal);
    EXPECT_EQ(ClassifyBody(403, R"({"code":"ERR_NOT_AUTHORIZED"})"), Outcome::kFatal);
    EXPECT_EQ(ClassifyBody(400, R"({"code":"391902"})"), Outcome::kFatal);
    EXPECT_EQ(ClassifyBody(404, R"({"code":"ERR_CHANNEL_DOES_NOT_EXIST"})"), Outcome::kReopen);
}

}  // namespace
}  // namespace snowcdc::snowpipe
