// libpq helpers: LSN text round trips, the retryable-or-fatal decision, RAII owners that
// free their handles exactly once across moves, and a refused connection reported as a
// retryable value (no server listens on the port used).
#include "pg_connection.hpp"

#include <gtest/gtest.h>

namespace snowcdc {
namespace {

TEST(PgConnectionTest, LsnTextRoundTrips) {
    EXPECT_EQ(ParseLsn("16/B374D848"), 0x16B374D848ull);
    EXPECT_EQ(ParseLsn("0/0"), 0u);
    EXPECT_FALSE(ParseLsn("16-B374D848").has_value());
    EXPECT_FALSE(ParseLsn("1/2x").has_value());
    EXPECT_EQ(FormatLsn(0x16B374D848ull), "16/B374D848");
    EXPECT_EQ(FormatLsn(0), "0/0");
}

TEST(PgConnectionTest, OnlyConfigurationAndAuthenticationAreFatal) {
    EXPECT_FALSE(IsRetryable(PgFailure::kAuthentication));
    EXPECT_FALSE(IsRetryable(PgFailure::kConfiguration));
    for (PgFailure kind : {PgFailure::kConnect, PgFailure::kSlotBusy, PgFailure::kQuery,
                           PgFailure::kStreamLost, PgFailure::kProtocol})
        EXPECT_TRUE(IsRetryable(kind)) << PgFailureName(kind);
}

TEST(PgConnectionTest, ResultOwnerFreesOnceAcrossMoves) {
    PgResult a(PQmakeEmptyPGresult(nullptr, PGRES_COMMAND_OK));
    PGresult *raw = a.get();
    PgResult b(std::move(a));
    EXPECT_EQ(a.get(), nullptr);
    EXPECT_EQ(b.get(), raw);
    PgResult c;
    c = std::move(b);
    EXPECT_EQ(c.get(), raw);
    EXPECT_EQ(c.Status(), PGRES_COMMAND_OK);
}

TEST(PgConnectionTest, RefusedConnectionIsARetryableValue) {
    PgConn conn;
    // Port 1 on loopback: nothing listens there, and the refusal is immediate.
    auto error = PgConn::Connect("host=127.0.0.1 port=1 user=nobody dbname=x", true, &conn);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->kind, PgFailure::kConnect);
    EXPECT_TRUE(IsRetryable(error->kind));
    EXPECT_FALSE(conn);
}

TEST(PgConnectionTest, MalformedConninfoIsFatal) {
    PgConn conn;
    auto error = PgConn::Connect("host=127.0.0.1 bogus_option=1", false, &conn);
    ASSERT_TRUE(error.has_value());
    EXPECT_FALSE(IsRetryable(error->kind)) << error->message;
}

}  // namespace
}  // namespace snowcdc
