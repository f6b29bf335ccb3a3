// The Snowpipe client and token source against the test double on 127.0.0.1.
#include "snowpipe/snowpipe_client.hpp"

#include <atomic>

#include <gtest/gtest.h>

#include "snowpipe_double.hpp"
#include "test_keys.hpp"

namespace snowcdc::snowpipe {
namespace {

using testing::DoubleFault;
using testing::SnowpipeDouble;

const testing::TestKeyPair &Keys() {
    static const testing::TestKeyPair keys = testing::GenerateTestKeyPair();
    return keys;
}

class ClientTest : public ::testing::Test {
  protected:
    void SetUp() override {
        testing::DoubleOptions options;
        options.public_key_pem = Keys().public_pem;
        server_ = std::make_unique<SnowpipeDouble>(options);
        tokens_ = MakeTokens(Keys().private_pem);
        client_ =
            std::make_unique<SnowpipeClient>(*tokens_, PipeAddress{"CDC_DB", "PUBLIC", "CDC_PIPE"});
    }

    std::unique_ptr<TokenSource> MakeTokens(const std::string &private_pem) {
        AuthConfig auth;
        auth.account = "testacct";
        auth.user = "shipper";
        auth.account_url = server_->Url();
        auth.user_agent = "snowcdc-shipper/test";
        auth.timeout = std::chrono::milliseconds(10000);
        return std::make_unique<TokenSource>(auth, ParsePrivateKeyPem(private_pem, "", "test"),
                                             [this] { return now_.load(); });
    }

    CallResult Append(const std::string &channel, const std::string &continuation,
                      const std::string &body, std::string *next,
                      Compression compression = Compression::kNone) {
        AppendRequest request;
        request.channel = channel;
        request.continuation_token = continuation;
        request.start_offset_token = FormatOffsetToken({1, 0});
        request.end_offset_token = FormatOffsetToken({++lsn_, 0});
        request.request_id = NewRequestId();
        request.body = Compress(compression, body);
        request.compression = compression;
        request.uncompressed_size = body.size();
        AppendAnswer answer;
        std::string session;
        CallResult result = client_->Append(request, &answer, &session);
        if (result.Ok()) {
            *next = answer.continuation_token;
            EXPECT_EQ(session, "double-session-" + channel);
        }
        return result;
    }

    std::atomic<int64_t> now_{static_cast<int64_t>(time(nullptr))};
    uint64_t lsn_ = 100;
    std::unique_ptr<SnowpipeDouble> server_;
    std::unique_ptr<TokenSource> tokens_;
    std::unique_ptr<SnowpipeClient> client_;
};

TEST_F(ClientTest, OpenAppendStatusDropInBothAnswerForms) {
    for (bool observed : {true, false}) {
        server_->SetObservedForms(observed);
        std::string channel = observed ? "obs_0" : "doc_0";
        OpenAnswer open;
        ASSERT_TRUE(client_->OpenChannel(channel, NewRequestId(), &open).Ok());
        EXPECT_TRUE(open.status.Usable());
        EXPECT_FALSE(open.status.last_committed_offset_token);
        std::string next;
        CallResult appended =
            Append(channel, open.continuation_token, "{\"a\":1}\n{\"a\":2}\n", &next);
        ASSERT_TRUE(appended.Ok()) << appended.Describe();
        EXPECT_NE(next, open.continuation_token);
        std::map<std::string, ChannelStatus> statuses;
        ASSERT_TRUE(client_->BulkStatus({channel, "absent"}, NewRequestId(), &statuses).Ok());
        ASSERT_EQ(statuses.count(channel), 1u);
        EXPECT_EQ(statuses.count("absent"), 0u);
        EXPECT_TRUE(statuses[channel].Usable());
        EXPECT_EQ(statuses[channel].last_committed_offset_token, FormatOffsetToken({lsn_, 0}));
        ASSERT_TRUE(client_->DropChannel(channel, NewRequestId()).Ok());
        ASSERT_TRUE(client_->BulkStatus({channel}, NewRequestId(), &statuses).Ok());
        EXPECT_EQ(statuses.count(channel), 0u);
    }
    EXPECT_EQ(server_->Committed().size(), 4u);
}

TEST_F(ClientTest, CompressedBodiesArrive) {
    OpenAnswer open;
    ASSERT_TRUE(client_->OpenChannel("z", NewRequestId(), &open).Ok());
    std::string next = open.continuation_token;
    ASSERT_TRUE(Append("z", next, "{\"k\":\"zstd\"}\n", &next, Compression::kZstd).Ok());
    ASSERT_TRUE(Append("z", next, "{\"k\":\"gzip\"}\n", &next, Compression::kGzip).Ok());
    auto rows = server_->Committed();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].row, R"({"k":"zstd"})");
    EXPECT_EQ(rows[1].row, R"({"k":"gzip"})");
}

TEST_F(ClientTest, ExpiredScopedTokenIsExchangedOnceAndRetried) {
    OpenAnswer open;
    ASSERT_TRUE(client_->OpenChannel("t", NewRequestId(), &open).Ok());
    EXPECT_EQ(tokens_->Exchanges(), 1u);
    server_->ExpireTokens();
    std::string next;
    CallResult result = Append("t", open.continuation_token, "{}\n", &next);
    ASSERT_TRUE(result.Ok()) << result.Describe();
    EXPECT_EQ(tokens_->Exchanges(), 2u);
    EXPECT_EQ(server_->Stats().unauthorized, 1u);
}

TEST_F(ClientTest, ScopedTokenIsRefreshedBeforeItsExp) {
    server_->SetScopedTokenLifetime(120);
    OpenAnswer open;
    ASSERT_TRUE(client_->OpenChannel("r", NewRequestId(), &open).Ok());
    now_ += 120 - TokenSource::kScopedRefreshMargin - 1;
    ASSERT_TRUE(client_->OpenChannel("r", NewRequestId(), &open).Ok());
    EXPECT_EQ(tokens_->Exchanges(), 1u);
    now_ += 2;
    ASSERT_TRUE(client_->OpenChannel("r", NewRequestId(), &open).Ok());
    EXPECT_EQ(tokens_->Exchanges(), 2u);
}

TEST_F(ClientTest, JwtIsReusedUntilItsRenewalAge) {
    std::string first = tokens_->Jwt();
    now_ += TokenSource::kJwtRenewAge - 1;
    EXPECT_EQ(tokens_->Jwt(), first);
    now_ += 1;
    std::string renewed = tokens_->Jwt();
    EXPECT_NE(renewed, first);
    EXPECT_EQ(JwtExpiry(renewed), now_.load() + TokenSource::kJwtLifetime);
    EXPECT_LE(TokenSource::kJwtLifetime, 3600) << "the service refuses exp > iat + 1 h";
}

TEST_F(ClientTest, WrongKeyIsFatalAndNamesTheFingerprint) {
    testing::TestKeyPair other = testing::GenerateTestKeyPair();
    auto tokens = MakeTokens(other.private_pem);
    SnowpipeClient client(*tokens, PipeAddress{"CDC_DB", "PUBLIC", "CDC_PIPE"});
    OpenAnswer open;
    CallResult result = client.OpenChannel("c", NewRequestId(), &open);
    EXPECT_EQ(result.outcome, Outcome::kFatal);
    EXPECT_NE(result.detail.find("SHA256:" + tokens->Fingerprint()), std::string::npos)
        << result.detail;
    EXPECT_NE(result.detail.find("shipper"), std::string::npos) << result.detail;
}

TEST_F(ClientTest, MissingPipeIsFatalAndNamesThePipe) {
    SnowpipeClient client(*tokens_, PipeAddress{"CDC_DB", "PUBLIC", "NO_SUCH_PIPE"});
    OpenAnswer open;
    CallResult result = client.OpenChannel("c", NewRequestId(), &open);
    EXPECT_EQ(result.outcome, Outcome::kFatal);
    EXPECT_EQ(result.error.code, "ERR_PIPE_DOES_NOT_EXIST_OR_NOT_AUTHORIZED");
    EXPECT_NE(result.Describe().find("CDC_DB.PUBLIC.NO_SUCH_PIPE"), std::string::npos)
        << result.Describe();
}

TEST_F(ClientTest, DoubleRejectsARequestWithoutAccept) {
    HttpClient http;
    HttpRequest request;
    request.url = server_->Url() + "/v2/streaming/hostname";
    HttpResponse response = http.Perform(request);
    ASSERT_EQ(response.transport, TransportStatus::kOk);
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(ParseErrorBody(response.body).code, "391902");
}

TEST_F(ClientTest, FaultsAreClassified) {
    OpenAnswer open;
    server_->Inject(DoubleFault::kOpenInProgress);
    EXPECT_EQ(client_->OpenChannel("f", NewRequestId(), &open).outcome, Outcome::kRetry);
    ASSERT_TRUE(client_->OpenChannel("f", NewRequestId(), &open).Ok());
    std::string next;
    server_->Inject(DoubleFault::kThrottle);
    EXPECT_EQ(Append("f", open.continuation_token, "{}\n", &next).outcome, Outcome::kRetry);
    server_->Inject(DoubleFault::kUnavailable);
    CallResult unavailable = Append("f", open.continuation_token, "{}\n", &next);
    EXPECT_EQ(unavailable.outcome, Outcome::kRetry);
    EXPECT_EQ(unavailable.error.code, "ERR_GENERAL_EXCEPTION_RETRY_REQUEST");
    server_->Inject(DoubleFault::kDropConnection);
    EXPECT_EQ(Append("f", open.continuation_token, "{}\n", &next).outcome,
              Outcome::kUnknownOutcome);
    EXPECT_EQ(server_->Committed().size(), 0u);
    server_->Inject(DoubleFault::kLoseResponse);
    EXPECT_EQ(Append("f", open.continuation_token, "{\"lost\":1}\n", &next).outcome,
              Outcome::kUnknownOutcome);
    EXPECT_EQ(server_->Committed().size(), 1u) << "the lost answer's rows were taken";
    server_->SetErrorBodyForm(testing::ErrorBodyForm::kErrorCode);
    server_->InvalidateChannel("f");
    EXPECT_EQ(Append("f", open.continuation_token, "{}\n", &next).outcome, Outcome::kReopen);
    OpenAnswer reopened;
    ASSERT_TRUE(client_->OpenChannel("f", NewRequestId(), &reopened).Ok());
    server_->SetErrorBodyForm(testing::ErrorBodyForm::kBareString);
    EXPECT_EQ(Append("f", open.continuation_token, "{}\n", &next).outcome, Outcome::kReopen)
        << "a token from the previous client sequencer is stale";
    EXPECT_TRUE(Append("f", reopened.continuation_token, "{}\n", &next).Ok());
}

}  // namespace
}  // namespace snowcdc::snowpipe
