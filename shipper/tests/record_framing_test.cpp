// Record framing: every v1 record kind yields its envelope fields, nested values and tricky
// strings are skipped correctly, member order does not matter, and malformed text is refused
// with a reason.
#include "record_framing.hpp"

#include <gtest/gtest.h>

namespace snowcdc {
namespace {

FramedRecord Frame(std::string_view text) {
    std::string error;
    auto rec = FrameRecord(text, &error);
    EXPECT_TRUE(rec.has_value()) << error << " in " << text;
    return rec.value_or(FramedRecord{});
}

std::string Error(std::string_view text) {
    std::string error;
    EXPECT_FALSE(FrameRecord(text, &error).has_value()) << text;
    return error;
}

TEST(RecordFramingTest, UpdateFromTheSpecExample) {
    FramedRecord r = Frame(
        R"({"op":"u","lsn":23805312,"seq":0,"xid":745,"ts":1763712942123456,"schema":"public",)"
        R"("table":"customers","key":{"id":42},"after":{"id":42,"email":"new@example.com",)"
        R"("balance":1042.50,"tags":["a","b"],"profile":{"city":"Zürich"}},"toast":["bio"]})");
    EXPECT_EQ(r.kind, RecordKind::kChange);
    EXPECT_EQ(r.op, 'u');
    EXPECT_EQ(r.lsn, 23805312u);
    EXPECT_EQ(r.seq, 0u);
    EXPECT_TRUE(r.has_seq);
    EXPECT_EQ(r.xid, 745u);
    EXPECT_EQ(r.ts, 1763712942123456);
    EXPECT_EQ(r.schema, "public");
    EXPECT_EQ(r.table, "customers");
    EXPECT_EQ(r.key, R"({"id":42})");
}

TEST(RecordFramingTest, BeginAndCommit) {
    FramedRecord b = Frame(R"({"op":"begin","xid":745,"lsn":23805312,"ts":1763712942123456})");
    EXPECT_EQ(b.kind, RecordKind::kBegin);
    EXPECT_FALSE(b.has_seq);
    FramedRecord c = Frame(
        R"({"op":"commit","xid":745,"lsn":23805312,"end_lsn":23805400,"ts":1763712942123456,"n":1})");
    EXPECT_EQ(c.kind, RecordKind::kCommit);
    EXPECT_EQ(c.end_lsn, 23805400u);
    EXPECT_EQ(c.lsn, 23805312u);
}

TEST(RecordFramingTest, MessagesTransactionalAndNot) {
    FramedRecord m = Frame(
        R"({"op":"m","lsn":100,"transactional":false,"prefix":"snowcdc.heartbeat","content":"x"})");
    EXPECT_EQ(m.kind, RecordKind::kMessage);
    EXPECT_FALSE(m.transactional);
    EXPECT_FALSE(m.has_seq);
    EXPECT_EQ(m.prefix, "snowcdc.heartbeat");
    FramedRecord t = Frame(
        R"({"op":"m","lsn":200,"seq":3,"xid":9,"transactional":true,"prefix":"app","content":"{}"})");
    EXPECT_TRUE(t.transactional);
    EXPECT_EQ(t.seq, 3u);
}

TEST(RecordFramingTest, StringsWithBracketsQuotesAndEscapesAreSkipped) {
    FramedRecord r =
        Frame(R"({"op":"c","lsn":5,"seq":1,"xid":2,"ts":3,"schema":"we\"ird","table":"t{}",)"
              R"("key":{"k":"}\\\"]"},"after":{"a":"{[\"","b":[[1,2],{"c":"]"}]}})");
    EXPECT_EQ(r.schema, R"(we\"ird)");
    EXPECT_EQ(r.table, "t{}");
    EXPECT_EQ(r.key, R"({"k":"}\\\"]"})");
}

TEST(RecordFramingTest, MemberOrderDoesNotMatter) {
    FramedRecord r = Frame(
        R"({"after":{"id":1},"key":{"id":1},"table":"t","schema":"s","seq":7,"lsn":9,"op":"d"})");
    EXPECT_EQ(r.op, 'd');
    EXPECT_EQ(r.seq, 7u);
    EXPECT_EQ(r.lsn, 9u);
}

TEST(RecordFramingTest, KeylessTableHasEmptyKey) {
    FramedRecord r = Frame(R"({"op":"t","lsn":9,"seq":0,"xid":1,"ts":1,"schema":"s","table":"t"})");
    EXPECT_TRUE(r.key.empty());
}

TEST(RecordFramingTest, RouteHashFollowsTheRowNotTheVersion) {
    FramedRecord a = Frame(
        R"({"op":"c","lsn":1,"seq":0,"schema":"s","table":"t","key":{"id":1},"after":{"v":1}})");
    FramedRecord b = Frame(
        R"({"op":"u","lsn":2,"seq":4,"schema":"s","table":"t","key":{"id":1},"after":{"v":2}})");
    FramedRecord c = Frame(
        R"({"op":"u","lsn":2,"seq":5,"schema":"s","table":"t","key":{"id":2},"after":{"v":2}})");
    FramedRecord d = Frame(
        R"({"op":"u","lsn":2,"seq":6,"schema":"s","table":"tt","key":{"id":1},"after":{"v":2}})");
    EXPECT_EQ(a.RouteHash(), b.RouteHash());
    EXPECT_NE(a.RouteHash(), c.RouteHash());
    EXPECT_NE(a.RouteHash(), d.RouteHash());
}

TEST(RecordFramingTest, MalformedRecordsAreRefusedWithAReason) {
    EXPECT_NE(Error(R"({"op":"c","lsn":1,"seq":0,"table":"t","after":{"a":1})").find("truncated"),
              std::string::npos);
    EXPECT_NE(Error(R"({"op":"c","lsn":1,"seq":0,"table":"t","after":"x)").find("truncated"),
              std::string::npos);
    EXPECT_NE(Error(R"({"op":"x","lsn":1})").find("\"op\""), std::string::npos);
    EXPECT_NE(Error(R"({"op":"c","lsn":-1,"seq":0,"table":"t"})").find("\"lsn\""),
              std::string::npos);
    EXPECT_NE(Error(R"({"op":"c","seq":0,"table":"t"})").find("lacks"), std::string::npos);
    EXPECT_NE(Error(R"({"op":"c","lsn":1,"table":"t"})").find("seq"), std::string::npos);
    EXPECT_NE(Error(R"({"op":"commit","lsn":1})").find("end_lsn"), std::string::npos);
    EXPECT_NE(Error(R"({"op":"c","lsn":1,"seq":0,"table":"t"} x)").find("after"),
              std::string::npos);
    EXPECT_NE(Error(R"([1,2])").find("object"), std::string::npos);
    EXPECT_NE(Error(R"({"op":"c","lsn":99999999999999999999999,"seq":0,"table":"t"})").find("lsn"),
              std::string::npos);
}

}  // namespace
}  // namespace snowcdc
