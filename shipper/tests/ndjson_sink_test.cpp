// NDJSON sinks: the dir sink reports durability only after fsync, rotates by size, recovers
// its last position on Open() after a torn write (truncating the partial line), and the
// stdout sink writes batches verbatim.
#include "ndjson_sink.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "batcher.hpp"

namespace snowcdc {
namespace {

std::string Record(uint64_t lsn, uint32_t seq) {
    return R"({"op":"c","lsn":)" + std::to_string(lsn) + R"(,"seq":)" + std::to_string(seq) +
           R"(,"xid":1,"ts":1,"schema":"s","table":"t","key":{"id":)" + std::to_string(seq) +
           R"(},"after":{"id":)" + std::to_string(seq) + "}}";
}

Batch MakeBatch(uint64_t lsn, uint32_t from, uint32_t to) {
    Batcher b(1 << 20, std::chrono::milliseconds(50));
    for (uint32_t s = from; s < to; ++s) {
        RecordMeta m;
        m.pos = {lsn, s};
        m.op = 'c';
        b.Add(Record(lsn, s), m, std::chrono::steady_clock::now());
    }
    return b.Take();
}

class NdjsonDirSinkTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ndjson_sink_test_XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

    std::vector<std::string> Files() const {
        std::vector<std::string> names;
        DIR *d = opendir(dir_.c_str());
        while (dirent *e = readdir(d))
            if (e->d_name[0] != '.')
                names.push_back(e->d_name);
        closedir(d);
        std::sort(names.begin(), names.end());
        return names;
    }
    std::string Contents(const std::string &name) const {
        std::ifstream in(dir_ + "/" + name);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    NdjsonDirOptions Options(uint64_t rotate_bytes = 1 << 20) const {
        return {dir_, rotate_bytes, std::chrono::milliseconds(3600000)};
    }

    std::string dir_;
};

TEST_F(NdjsonDirSinkTest, DurableOnlyAfterPoll) {
    NdjsonDirSink sink(Options());
    EXPECT_FALSE(sink.Open().has_value());
    Batch batch = MakeBatch(100, 0, 3);
    size_t bytes = batch.data.size();
    sink.Submit(std::move(batch));
    EXPECT_FALSE(sink.DurablePosition().has_value());
    EXPECT_EQ(sink.InFlightBytes(), bytes);
    EXPECT_FALSE(sink.Poll(std::chrono::steady_clock::now()).has_value());
    EXPECT_EQ(sink.DurablePosition(), (StreamPosition{100, 2}));
    EXPECT_EQ(sink.InFlightBytes(), 0u);
    sink.Close();
    ASSERT_EQ(Files(), std::vector<std::string>{NdjsonDirSink::FileName({100, 0})});
    EXPECT_EQ(Contents(Files()[0]),
              Record(100, 0) + "\n" + Record(100, 1) + "\n" + Record(100, 2) + "\n");
}

TEST_F(NdjsonDirSinkTest, RotatesBySize) {
    NdjsonDirSink sink(Options(10));
    sink.Open();
    sink.Submit(MakeBatch(100, 0, 2));
    sink.Submit(MakeBatch(200, 0, 2));
    sink.Submit(MakeBatch(300, 0, 2));
    sink.Poll(std::chrono::steady_clock::now());
    EXPECT_EQ(sink.DurablePosition(), (StreamPosition{300, 1}));
    sink.Close();
    EXPECT_EQ(Files().size(), 3u);
    EXPECT_EQ(Files()[1], NdjsonDirSink::FileName({200, 0}));
}

TEST_F(NdjsonDirSinkTest, ReopenRecoversLastPositionAndCutsTornLine) {
    {
        NdjsonDirSink sink(Options());
        sink.Open();
        sink.Submit(MakeBatch(100, 0, 4));
        sink.Poll(std::chrono::steady_clock::now());
        sink.Close();
    }
    std::string name = Files()[0];
    std::string intact = Contents(name);
    {
        std::ofstream out(dir_ + "/" + name, std::ios::app);
        out << R"({"op":"c","lsn":100,"seq":4,"xid":1,"ts":1,"sch)";
    }
    NdjsonDirSink sink(Options());
    EXPECT_EQ(sink.Open(), (StreamPosition{100, 3}));
    EXPECT_EQ(sink.DurablePosition(), (StreamPosition{100, 3}));
    EXPECT_EQ(Contents(name), intact);
}

TEST_F(NdjsonDirSinkTest, EmptyNewestFileIsDiscardedOnOpen) {
    {
        NdjsonDirSink sink(Options());
        sink.Open();
        sink.Submit(MakeBatch(100, 0, 2));
        sink.Close();
    }
    std::ofstream(dir_ + "/" + NdjsonDirSink::FileName({200, 0})) << R"({"op":"c","ls)";
    NdjsonDirSink sink(Options());
    EXPECT_EQ(sink.Open(), (StreamPosition{100, 1}));
    EXPECT_EQ(Files().size(), 1u);
}

TEST_F(NdjsonDirSinkTest, ForeignFileIsRefusedWithItsName) {
    std::ofstream(dir_ + "/" + NdjsonDirSink::FileName({1, 0})) << "not json\n";
    NdjsonDirSink sink(Options());
    try {
        sink.Open();
        FAIL() << "expected an error";
    } catch (const std::runtime_error &e) {
        EXPECT_NE(std::string(e.what()).find(NdjsonDirSink::FileName({1, 0})), std::string::npos);
    }
}

TEST_F(NdjsonDirSinkTest, UnwritableDirectoryIsAConfigError) {
    NdjsonDirSink sink({dir_ + "/missing/deeper", 1 << 20, std::chrono::milliseconds(1000)});
    EXPECT_THROW(sink.Open(), std::runtime_error);
}

TEST(NdjsonStdoutSinkTest, WritesBatchesVerbatim) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    NdjsonStdoutSink sink(fds[1]);
    Batch batch = MakeBatch(7, 0, 2);
    std::string expected = batch.data;
    sink.Submit(std::move(batch));
    EXPECT_EQ(sink.DurablePosition(), (StreamPosition{7, 1}));
    close(fds[1]);
    std::string got(expected.size() + 10, '\0');
    ssize_t n = read(fds[0], got.data(), got.size());
    got.resize(n > 0 ? static_cast<size_t>(n) : 0);
    EXPECT_EQ(got, expected);
    close(fds[0]);
}

TEST(NdjsonStdoutSinkTest, ClosedPipeIsAFatalError) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    NdjsonStdoutSink sink(fds[1]);
    sink.Submit(MakeBatch(7, 0, 1));
    auto error = sink.Poll(std::chrono::steady_clock::now());
    ASSERT_TRUE(error.has_value());
    EXPECT_NE(error->message.find("standard output"), std::string::npos);
    close(fds[1]);
}

}  // namespace
}  // namespace snowcdc
