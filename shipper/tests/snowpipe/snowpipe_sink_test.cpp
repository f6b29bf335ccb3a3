// The Snowpipe sink against the test double: partitioning, durability, restart recovery,
// dead letters, and exactly-once delivery under every fault kind the double can inject.
#include "snowpipe/snowpipe_sink.hpp"

#include <fstream>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "snowpipe_double.hpp"
#include "test_keys.hpp"

namespace snowcdc::snowpipe {
namespace {

using testing::DoubleFault;
using testing::SnowpipeDouble;
using Clock = std::chrono::steady_clock;

const testing::TestKeyPair &Keys() {
    static const testing::TestKeyPair keys = testing::GenerateTestKeyPair("pass phrase");
    return keys;
}

// A stream of upserts over a few keys, in transactions of random size, kept for checking.
class Workload {
  public:
    explicit Workload(uint64_t seed, int keys = 40) : random_(seed), keys_(keys) {}

    Batch Next(size_t count, size_t pad = 0) {
        Batch batch;
        batch.id = ++batch_id_;
        for (size_t i = 0; i < count; ++i) {
            if (seq_left_ == 0) {
                lsn_ += 1 + random_() % 5000;
                seq_ = 0;
                seq_left_ = 1 + random_() % 8;
            }
            int key = static_cast<int>(random_() % static_cast<uint64_t>(keys_));
            StreamPosition pos{lsn_, seq_++};
            --seq_left_;
            std::string text =
                nlohmann::json{{"op", "u"},
                               {"lsn", pos.lsn},
                               {"seq", pos.seq},
                               {"key", {{"id", key}}},
                               {"after", {{"id", key}, {"pad", std::string(pad, 'x')}}}}
                    .dump();
            RecordMeta meta;
            meta.pos = pos;
            meta.route_hash = static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ULL;
            meta.offset = static_cast<uint32_t>(batch.data.size());
            meta.length = static_cast<uint32_t>(text.size());
            meta.op = 'u';
            batch.data += text + "\n";
            batch.records.push_back(meta);
            all_.push_back(pos);
        }
        return batch;
    }

    const std::vector<StreamPosition> &All() const { return all_; }

  private:
    std::mt19937_64 random_;
    int keys_;
    uint64_t batch_id_ = 0;
    uint64_t lsn_ = 0x1000000;
    uint32_t seq_ = 0;
    uint32_t seq_left_ = 0;
    std::vector<StreamPosition> all_;
};

// Every record of `expected` committed exactly once; per channel offset tokens never go
// backwards; per key versions arrive in stream order.
void ExpectExactlyOnce(const std::vector<testing::CommittedRow> &rows,
                       const std::vector<StreamPosition> &expected) {
    std::map<StreamPosition, int> seen;
    std::map<std::string, std::string> last_token;
    std::map<int, StreamPosition> last_of_key;
    std::map<int, std::string> channel_of_key;
    for (const testing::CommittedRow &row : rows) {
        auto record = nlohmann::json::parse(row.row);
        StreamPosition pos{record["lsn"].get<uint64_t>(), record["seq"].get<uint32_t>()};
        ++seen[pos];
        std::string &token = last_token[row.channel];
        EXPECT_LE(token, row.offset_token) << "channel " << row.channel;
        token = row.offset_token;
        int key = record["key"]["id"].get<int>();
        auto [channel, inserted] = channel_of_key.emplace(key, row.channel);
        EXPECT_EQ(channel->second, row.channel)
            << "every version of key " << key << " in one channel";
        auto last = last_of_key.find(key);
        if (last != last_of_key.end()) {
            EXPECT_LT(last->second, pos) << "key " << key << " out of order";
        }
        last_of_key[key] = pos;
    }
    size_t missing = 0;
    size_t duplicated = 0;
    for (const StreamPosition &pos : expected) {
        auto it = seen.find(pos);
        if (it == seen.end()) {
            ++missing;
        } else if (it->second > 1) {
            ++duplicated;
        }
    }
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(duplicated, 0u);
    EXPECT_EQ(seen.size(), expected.size());
}

class SinkTest : public ::testing::Test {
  protected:
    void SetUp() override {
        testing::DoubleOptions options;
        options.public_key_pem = Keys().public_pem;
        server_ = std::make_unique<SnowpipeDouble>(options);
        dead_letter_dir_ = testing::WriteTempFile("unused", "");
        dead_letter_dir_ = dead_letter_dir_.substr(0, dead_letter_dir_.rfind('/')) + "/dead";
    }

    SnowpipeSinkOptions Options(int channels = 3) {
        SnowpipeSinkOptions options;
        options.auth.account = "testacct";
        options.auth.user = "shipper";
        options.auth.account_url = server_->Url();
        options.auth.user_agent = "snowcdc-shipper/test";
        options.auth.timeout = std::chrono::milliseconds(10000);
        options.pipe = PipeAddress{"CDC_DB", "PUBLIC", "CDC_PIPE"};
        options.channel_count = channels;
        options.channel_prefix = "t";
        options.channel.status_interval = std::chrono::milliseconds(20);
        options.channel.backoff.initial = std::chrono::milliseconds(5);
        options.channel.backoff.max = std::chrono::milliseconds(50);
        options.channel.on_reject = OnReject::kSkip;
        options.dead_letter_dir = dead_letter_dir_;
        return options;
    }

    std::unique_ptr<SnowpipeSink> MakeSink(SnowpipeSinkOptions options) {
        return std::make_unique<SnowpipeSink>(
            std::move(options), ParsePrivateKeyPem(Keys().private_pem, "pass phrase", "test"));
    }

    // Polls until everything submitted is durable. The limit only bounds a broken test.
    std::optional<SinkError> Drain(SnowpipeSink &sink, StreamPosition last) {
        Clock::time_point give_up = Clock::now() + std::chrono::seconds(60);
        while (Clock::now() < give_up) {
            if (std::optional<SinkError> error =
                    sink.Poll(Clock::now() + std::chrono::milliseconds(200))) {
                return error;
            }
            std::optional<StreamPosition> durable = sink.DurablePosition();
            // Committed records are kept (and counted) until the status after their commit.
            if (durable && *durable >= last && sink.InFlightBytes() == 0) {
                return std::nullopt;
            }
        }
        ADD_FAILURE() << "not durable (and let go) within the test's limit";
        return SinkError{"timeout"};
    }

    std::vector<std::string> DeadLetterLines() {
        std::vector<std::string> lines;
        for (const std::string &path : dead_letter_files_) {
            std::ifstream in(path);
            std::string line;
            while (std::getline(in, line)) {
                lines.push_back(line);
            }
        }
        return lines;
    }

    std::unique_ptr<SnowpipeDouble> server_;
    std::string dead_letter_dir_;
    std::vector<std::string> dead_letter_files_;
};

TEST_F(SinkTest, StreamsEveryRecordExactlyOnceInKeyOrder) {
    auto sink = MakeSink(Options(3));
    EXPECT_FALSE(sink->Open());
    Workload workload(1);
    for (int i = 0; i < 20; ++i) {
        sink->Submit(workload.Next(100));
    }
    ASSERT_FALSE(Drain(*sink, workload.All().back()));
    EXPECT_EQ(sink->DurablePosition(), workload.All().back());
    sink->Close();
    ExpectExactlyOnce(server_->Committed(), workload.All());
    EXPECT_EQ(server_->Channels(), (std::vector<std::string>{"t_0", "t_1", "t_2"}));
}

TEST_F(SinkTest, DocumentedAnswerFormsAndGzip) {
    server_->SetObservedForms(false);
    server_->SetErrorBodyForm(testing::ErrorBodyForm::kErrorCode);
    SnowpipeSinkOptions options = Options(2);
    options.channel.compression = Compression::kGzip;
    auto sink = MakeSink(options);
    sink->Open();
    Workload workload(2);
    sink->Submit(workload.Next(500));
    server_->Inject(DoubleFault::kThrottle, 2);
    sink->Submit(workload.Next(500));
    ASSERT_FALSE(Drain(*sink, workload.All().back()));
    ExpectExactlyOnce(server_->Committed(), workload.All());
}

TEST_F(SinkTest, DurablePositionWaitsForTheSlowestChannel) {
    auto sink = MakeSink(Options(3));
    sink->Open();
    server_->HoldCommits(true);
    Workload workload(3);
    Batch first = workload.Next(300);
    sink->Submit(first);
    ASSERT_TRUE(server_->WaitUntil([&] { return server_->Stats().rows_appended == 300; },
                                   std::chrono::seconds(30)));
    sink->Poll(Clock::now());
    EXPECT_FALSE(sink->DurablePosition()) << "nothing is committed while commits are held";
    EXPECT_GT(sink->InFlightBytes(), 0u);
    server_->HoldCommits(false);
    ASSERT_FALSE(Drain(*sink, workload.All().back()));
    ExpectExactlyOnce(server_->Committed(), workload.All());
}

TEST_F(SinkTest, RestartSkipsWhatChannelsCommittedAndReplaysTheRest) {
    Workload workload(4);
    std::vector<Batch> batches;
    for (int i = 0; i < 10; ++i) {
        batches.push_back(workload.Next(200));
    }
    {
        auto sink = MakeSink(Options(3));
        sink->Open();
        for (int i = 0; i < 5; ++i) {
            sink->Submit(batches[static_cast<size_t>(i)]);
        }
        ASSERT_FALSE(Drain(*sink, batches[4].Last()));
        server_->HoldCommits(true);
        for (int i = 5; i < 8; ++i) {
            sink->Submit(batches[static_cast<size_t>(i)]);
        }
        ASSERT_TRUE(server_->WaitUntil([&] { return server_->Stats().rows_appended == 1600; },
                                       std::chrono::seconds(30)));
        sink->Close();  // as if killed: appended rows of batches 5..7 are not committed
    }
    auto sink = MakeSink(Options(3));
    // Re-opening discards the appended but uncommitted rows of batches 5..7.
    std::optional<StreamPosition> held = sink->Open();
    server_->HoldCommits(false);
    ASSERT_TRUE(held);
    EXPECT_LE(*held, batches[4].Last());
    EXPECT_GE(*held, batches[0].Last()) << "every channel committed rows of batches 1..5";
    // The shipper replays from an older position than the sink holds: everything again.
    for (const Batch &batch : batches) {
        sink->Submit(batch);
    }
    ASSERT_FALSE(Drain(*sink, workload.All().back()));
    ExpectExactlyOnce(server_->Committed(), workload.All());
}

TEST_F(SinkTest, ChangedChannelCountIsRefusedWithTheFix) {
    {
        auto sink = MakeSink(Options(3));
        sink->Open();
    }
    for (int channels : {2, 4}) {
        auto sink = MakeSink(Options(channels));
        try {
            sink->Open();
            FAIL() << channels << " channels must be refused";
        } catch (const SinkStartError &error) {
            EXPECT_NE(std::string(error.what()).find("SNOWCDC_SNOWPIPE_CHANNEL_PREFIX"),
                      std::string::npos)
                << error.what();
        }
    }
    SnowpipeSinkOptions fresh = Options(4);
    fresh.channel_prefix = "t2";
    EXPECT_NO_THROW(MakeSink(fresh)->Open());
}

TEST_F(SinkTest, WrongKeyAndMissingPipeStopAtOpen) {
    SnowpipeSinkOptions options = Options(1);
    options.pipe.pipe = "NOPE";
    try {
        MakeSink(options)->Open();
        FAIL();
    } catch (const SinkStartError &error) {
        EXPECT_NE(std::string(error.what()).find("CDC_DB.PUBLIC.NOPE"), std::string::npos)
            << error.what();
    }
    testing::TestKeyPair other = testing::GenerateTestKeyPair();
    SnowpipeSink sink(Options(1), ParsePrivateKeyPem(other.private_pem, "", "other"));
    try {
        sink.Open();
        FAIL();
    } catch (const SinkStartError &error) {
        EXPECT_NE(std::string(error.what()).find("RSA_PUBLIC_KEY_FP"), std::string::npos)
            << error.what();
    }
}

TEST_F(SinkTest, OversizedRecordIsADeadLetterAndSkipped) {
    SnowpipeSinkOptions options = Options(2);
    options.channel.request_max_bytes = 4096;
    auto sink = MakeSink(options);
    sink->Open();
    Workload workload(5);
    Batch small = workload.Next(50);
    Batch big = workload.Next(1, 5000);
    StreamPosition big_pos = big.records[0].pos;
    Batch after = workload.Next(50);
    sink->Submit(small);
    sink->Submit(big);
    sink->Submit(after);
    ASSERT_FALSE(Drain(*sink, after.Last()));
    std::vector<StreamPosition> expected;
    for (const StreamPosition &pos : workload.All()) {
        if (pos != big_pos) {
            expected.push_back(pos);
        }
    }
    ExpectExactlyOnce(server_->Committed(), expected);
    EXPECT_EQ(sink->Stats().dead_letters, 1u);
    dead_letter_files_ = {sink->DeadLetterPath()};
    std::vector<std::string> lines = DeadLetterLines();
    ASSERT_EQ(lines.size(), 1u);
    auto letter = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(letter["offset_token"], FormatOffsetToken(big_pos));
    EXPECT_NE(letter["reason"].get<std::string>().find("request size limit"), std::string::npos);
    EXPECT_EQ(letter["record"]["lsn"], big_pos.lsn);
}

TEST_F(SinkTest, OversizedRecordStopsUnderStopPolicyAndIsNeverConfirmed) {
    SnowpipeSinkOptions options = Options(2);
    options.channel.request_max_bytes = 4096;
    options.channel.on_reject = OnReject::kStop;
    auto sink = MakeSink(options);
    sink->Open();
    Workload workload(6);
    Batch small = workload.Next(20);
    Batch big = workload.Next(1, 5000);
    sink->Submit(small);
    sink->Submit(big);
    std::optional<SinkError> error = sink->Poll(Clock::now());
    ASSERT_TRUE(error);
    EXPECT_NE(error->message.find("SNOWCDC_SNOWPIPE_ON_REJECT"), std::string::npos)
        << error->message;
    EXPECT_TRUE(Drain(*sink, big.Last()));
    std::optional<StreamPosition> durable = sink->DurablePosition();
    EXPECT_TRUE(!durable || *durable < big.records[0].pos);
}

TEST_F(SinkTest, NoDeadLetterDirectoryMeansStopNotLoss) {
    SnowpipeSinkOptions options = Options(1);
    options.channel.request_max_bytes = 1024;
    options.dead_letter_dir = "";
    auto sink = MakeSink(options);
    sink->Open();
    Workload workload(7);
    sink->Submit(workload.Next(1, 2000));
    std::optional<SinkError> error = sink->Poll(Clock::now());
    ASSERT_TRUE(error);
    EXPECT_NE(error->message.find("SNOWCDC_SNOWPIPE_DEAD_LETTER_DIR"), std::string::npos)
        << error->message;
    EXPECT_FALSE(sink->DurablePosition());
}

TEST_F(SinkTest, RejectedRowsBecomeDeadLetters) {
    server_->SetRejectRowsContaining("\"id\":7}");
    auto sink = MakeSink(Options(2));
    sink->Open();
    Workload workload(8, 10);
    sink->Submit(workload.Next(400));
    ASSERT_FALSE(Drain(*sink, workload.All().back()));
    uint64_t rejected = server_->Stats().row_errors;
    ASSERT_GT(rejected, 0u);
    ASSERT_TRUE(server_->WaitUntil(
        [&] {
            sink->Poll(Clock::now() + std::chrono::milliseconds(20));
            return sink->Stats().rejected_rows == rejected;
        },
        std::chrono::seconds(30)));
    dead_letter_files_ = {sink->DeadLetterPath()};
    size_t rejected_key_letters = 0;
    for (const std::string &line : DeadLetterLines()) {
        auto letter = nlohmann::json::parse(line);
        EXPECT_NE(letter["reason"].get<std::string>().find("Snowflake rejected"),
                  std::string::npos);
        if (letter["record"]["key"]["id"] == 7) {
            ++rejected_key_letters;
        }
    }
    EXPECT_EQ(rejected_key_letters, rejected) << "every rejected row is among the dead letters";
}

TEST_F(SinkTest, RejectionsCountedBeforeARestartAreReportedOnce) {
    server_->SetRejectRowsContaining("\"id\":3}");
    Workload workload(9, 5);
    Batch batch = workload.Next(100);
    {
        SnowpipeSinkOptions options = Options(1);
        options.channel.status_interval = std::chrono::hours(1);  // never sees the counter
        options.channel.status_min_interval = std::chrono::hours(1);
        auto sink = MakeSink(options);
        sink->Open();
        sink->Submit(batch);
        ASSERT_TRUE(server_->WaitUntil([&] { return server_->Stats().appends == 1; },
                                       std::chrono::seconds(30)));
        sink->Close();
    }
    ASSERT_GT(server_->Stats().row_errors, 0u);
    std::vector<std::string> paths;
    for (int run = 0; run < 2; ++run) {
        auto sink = MakeSink(Options(1));
        sink->Open();
        EXPECT_EQ(sink->Stats().dead_letters, run == 0 ? 1u : 0u);
        paths.push_back(sink->DeadLetterPath());
    }
    std::set<std::string> distinct(paths.begin(), paths.end());
    dead_letter_files_.assign(distinct.begin(), distinct.end());
    std::vector<std::string> lines = DeadLetterLines();
    ASSERT_EQ(lines.size(), 1u);
    auto letter = nlohmann::json::parse(lines[0]);
    EXPECT_NE(letter["reason"].get<std::string>().find("no longer known"), std::string::npos)
        << lines[0];
    EXPECT_NE(letter["reason"].get<std::string>().find(
                  "rejected " + std::to_string(server_->Stats().row_errors) + " row"),
              std::string::npos)
        << lines[0];
}

struct FaultCase {
    const char *name;
    std::function<void(SnowpipeDouble &)> inject;
    std::chrono::milliseconds commit_delay;
};

class FaultTest : public SinkTest, public ::testing::WithParamInterface<FaultCase> {};

TEST_P(FaultTest, ExactlyOnceUnderFault) {
    server_->SetCommitDelay(GetParam().commit_delay);
    auto sink = MakeSink(Options(3));
    sink->Open();
    Workload workload(100);
    for (int round = 0; round < 6; ++round) {
        for (int i = 0; i < 4; ++i) {
            sink->Submit(workload.Next(150));
        }
        GetParam().inject(*server_);
        sink->Poll(Clock::now() + std::chrono::milliseconds(30));
    }
    ASSERT_FALSE(Drain(*sink, workload.All().back()));
    sink->Close();
    EXPECT_GT(server_->Stats().faults_fired + server_->Stats().unauthorized + sink->Stats().reopens,
              0u)
        << "the fault must have happened";
    ExpectExactlyOnce(server_->Committed(), workload.All());
    if (std::string(GetParam().name) == "Throttle" ||
        std::string(GetParam().name) == "Unavailable") {
        EXPECT_GT(server_->Stats().repeated_request_ids, 0u) << "a retry keeps its request id";
    }
}

const std::chrono::milliseconds kNoDelay{0};
const std::chrono::milliseconds kDelay{150};

INSTANTIATE_TEST_SUITE_P(
    Faults, FaultTest,
    ::testing::Values(
        FaultCase{"Throttle", [](SnowpipeDouble &s) { s.Inject(DoubleFault::kThrottle, 2); },
                  kNoDelay},
        FaultCase{"Unavailable", [](SnowpipeDouble &s) { s.Inject(DoubleFault::kUnavailable, 2); },
                  kNoDelay},
        FaultCase{"DropConnection",
                  [](SnowpipeDouble &s) { s.Inject(DoubleFault::kDropConnection, 2); }, kNoDelay},
        FaultCase{"LoseResponseCommitted",
                  [](SnowpipeDouble &s) { s.Inject(DoubleFault::kLoseResponse, 2); }, kNoDelay},
        FaultCase{"LoseResponsePending",
                  [](SnowpipeDouble &s) { s.Inject(DoubleFault::kLoseResponse, 2); }, kDelay},
        FaultCase{"TokenExpiry", [](SnowpipeDouble &s) { s.ExpireTokens(); }, kNoDelay},
        FaultCase{"Invalidation",
                  [](SnowpipeDouble &s) {
                      s.InvalidateChannel("t_0");
                      s.InvalidateChannel("t_2");
                  },
                  kDelay},
        FaultCase{"InvalidationAndOpenInProgress",
                  [](SnowpipeDouble &s) {
                      s.Inject(DoubleFault::kOpenInProgress, 2);
                      s.InvalidateChannel("t_1");
                  },
                  kDelay},
        FaultCase{"StaleSequencer",
                  [](SnowpipeDouble &s) { s.Inject(DoubleFault::kStaleSequencer, 1); }, kDelay},
        FaultCase{"StatusUnavailable",
                  [](SnowpipeDouble &s) { s.Inject(DoubleFault::kStatusUnavailable, 3); }, kDelay}),
    [](const ::testing::TestParamInfo<FaultCase> &info) { return std::string(info.param.name); });

}  // namespace
}  // namespace snowcdc::snowpipe
