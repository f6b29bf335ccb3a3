// One Snowpipe channel against the test double: what its in-flight accounting counts (the
// records with their bookkeeping, and the append body while it is unanswered), that one
// status poller serves every channel of a sink, and that appends respect the request target.
#include "snowpipe/snowpipe_channel.hpp"

#include <gtest/gtest.h>

#include "snowpipe/key_pair.hpp"
#include "snowpipe_double.hpp"
#include "test_keys.hpp"

namespace snowcdc::snowpipe {
namespace {

using testing::DoubleFault;
using testing::SnowpipeDouble;

const testing::TestKeyPair &Keys() {
    static const testing::TestKeyPair keys = testing::GenerateTestKeyPair("pass phrase");
    return keys;
}

std::vector<PendingRecord> Records(uint64_t lsn, int count, size_t pad) {
    std::vector<PendingRecord> records;
    for (int i = 0; i < count; ++i) {
        records.push_back(PendingRecord{StreamPosition{lsn, static_cast<uint32_t>(i)},
                                        R"({"op":"c","lsn":)" + std::to_string(lsn) + R"(,"seq":)" +
                                            std::to_string(i) + R"(,"after":{"pad":")" +
                                            std::string(pad, 'p') + R"("}})"});
    }
    return records;
}

size_t RecordsCharge(const std::vector<PendingRecord> &records) {
    size_t bytes = 0;
    for (const PendingRecord &record : records) {
        bytes += record.text.size() + 1 + sizeof(QueuedRecord);
    }
    return bytes;
}

size_t BodyBytes(const std::vector<PendingRecord> &records) {
    size_t bytes = 0;
    for (const PendingRecord &record : records) {
        bytes += record.text.size() + 1;
    }
    return bytes;
}

class ChannelTest : public ::testing::Test {
  protected:
    void SetUp() override {
        testing::DoubleOptions options;
        options.public_key_pem = Keys().public_pem;
        server_ = std::make_unique<SnowpipeDouble>(options);
        AuthConfig auth;
        auth.account = "testacct";
        auth.user = "shipper";
        auth.account_url = server_->Url();
        auth.user_agent = "snowcdc-shipper/test";
        auth.timeout = std::chrono::milliseconds(10000);
        tokens_ = std::make_unique<TokenSource>(
            auth, ParsePrivateKeyPem(Keys().private_pem, "pass phrase", "test"));
        shared_.dead_letter_writer = &dead_letters_;
    }

    ChannelOptions Options() const {
        ChannelOptions options;
        options.compression = Compression::kNone;  // the body is then exactly the NDJSON
        options.status_interval = std::chrono::milliseconds(20);
        options.status_min_interval = std::chrono::milliseconds(5);
        options.backoff.initial = std::chrono::milliseconds(5);
        options.backoff.max = std::chrono::milliseconds(50);
        return options;
    }

    std::unique_ptr<SnowpipeChannel> Open(const std::string &name, ChannelOptions options) {
        auto channel = std::make_unique<SnowpipeChannel>(
            name, *tokens_, PipeAddress{"CDC_DB", "PUBLIC", "CDC_PIPE"}, options, shared_);
        EXPECT_EQ(channel->OpenNow(3), std::nullopt);
        channel->Start();
        return channel;
    }

    bool WaitDurable(SnowpipeChannel &channel) {
        return server_->WaitUntil([&] { return !channel.FirstPending().has_value(); },
                                  std::chrono::seconds(30));
    }

    std::unique_ptr<SnowpipeDouble> server_;
    std::unique_ptr<TokenSource> tokens_;
    DeadLetterWriter dead_letters_{""};
    SinkShared shared_;
};

TEST_F(ChannelTest, InFlightCountsRecordsUntilCommittedWithTheirBookkeeping) {
    server_->HoldCommits(true);
    auto channel = Open("acct_0", Options());
    std::vector<PendingRecord> records = Records(100, 50, 30);
    size_t charge = RecordsCharge(records);
    channel->Enqueue(records);
    ASSERT_TRUE(server_->WaitUntil([&] { return server_->Stats().rows_appended == 50; },
                                   std::chrono::seconds(30)));
    // Appended and answered: the body is gone, the records wait for their commit.
    ASSERT_TRUE(server_->WaitUntil([&] { return shared_.in_flight_bytes.load() == charge; },
                                   std::chrono::seconds(30)))
        << shared_.in_flight_bytes.load() << " != " << charge;
    server_->HoldCommits(false);
    ASSERT_TRUE(WaitDurable(*channel));
    // Committed records are kept for one more status (late error counts), then let go.
    EXPECT_TRUE(server_->WaitUntil([&] { return shared_.in_flight_bytes.load() == 0; },
                                   std::chrono::seconds(30)));
    EXPECT_EQ(server_->CommittedCount(), 50u);
}

TEST_F(ChannelTest, InFlightCountsTheAppendBodyWhileItIsRetried) {
    ChannelOptions options = Options();
    options.backoff.initial = std::chrono::hours(1);  // the retry waits until the test ends
    options.backoff.max = std::chrono::hours(1);
    server_->Inject(DoubleFault::kThrottle, 1);
    auto channel = Open("acct_0", options);
    std::vector<PendingRecord> records = Records(200, 20, 10);
    size_t expected = RecordsCharge(records) + BodyBytes(records);
    channel->Enqueue(records);
    ASSERT_TRUE(server_->WaitUntil([&] { return server_->Stats().faults_fired == 1; },
                                   std::chrono::seconds(30)));
    // The refused append is kept for its retry: records and body are both held.
    EXPECT_EQ(shared_.in_flight_bytes.load(), expected);
    channel->Stop();
    channel.reset();
    EXPECT_EQ(shared_.in_flight_bytes.load(), 0u);
}

TEST_F(ChannelTest, AppendsStayNearTheRequestTarget) {
    ChannelOptions options = Options();
    options.request_target_bytes = 1000;
    auto channel = Open("acct_0", options);
    std::vector<PendingRecord> records = Records(300, 40, 200);  // about 250 bytes each
    channel->Enqueue(records);
    ASSERT_TRUE(WaitDurable(*channel));
    EXPECT_EQ(server_->CommittedCount(), 40u);
    // At most 4 records of about 250 bytes fit 1000 bytes: at least 10 appends.
    EXPECT_GE(server_->Stats().appends, 10u);
}

TEST_F(ChannelTest, OnePollerServesEveryChannel) {
    auto first = Open("acct_0", Options());
    auto second = Open("acct_1", Options());
    ASSERT_NE(shared_.poller, nullptr);
    first->Enqueue(Records(400, 5, 10));
    second->Enqueue(Records(401, 5, 10));
    ASSERT_TRUE(WaitDurable(*first));
    ASSERT_TRUE(WaitDurable(*second));
    EXPECT_EQ(server_->CommittedCount(), 10u);
    EXPECT_GE(shared_.poller->Polls(), 1u);
    EXPECT_TRUE(server_->WaitUntil([&] { return shared_.in_flight_bytes.load() == 0; },
                                   std::chrono::seconds(30)));
}

}  // namespace
}  // namespace snowcdc::snowpipe
