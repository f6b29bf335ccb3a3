// libpq ownership and failure classification (see pg_connection.hpp).
#include "pg_connection.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

namespace snowcdc {

bool IsRetryable(PgFailure kind) {
    switch (kind) {
        case PgFailure::kAuthentication:
        case PgFailure::kConfiguration:
            return false;
        case PgFailure::kConnect:
        case PgFailure::kSlotBusy:
        case PgFailure::kQuery:
        case PgFailure::kStreamLost:
        case PgFailure::kProtocol:
            return true;
    }
    return true;
}

const char *PgFailureName(PgFailure kind) {
    switch (kind) {
        case PgFailure::kConnect:
            return "connect";
        case PgFailure::kAuthentication:
            return "authentication";
        case PgFailure::kConfiguration:
            return "configuration";
        case PgFailure::kSlotBusy:
            return "slot_busy";
        case PgFailure::kQuery:
            return "query";
        case PgFailure::kStreamLost:
            return "stream_lost";
        case PgFailure::kProtocol:
            return "protocol";
    }
    return "unknown";
}

PgResult &PgResult::operator=(PgResult &&other) noexcept {
    if (this != &other) {
        Reset();
        res_ = other.res_;
        other.res_ = nullptr;
    }
    return *this;
}

void PgResult::Reset() {
    if (res_ != nullptr)
        PQclear(res_);
    res_ = nullptr;
}

PgConn &PgConn::operator=(PgConn &&other) noexcept {
    if (this != &other) {
        Reset();
        conn_ = other.conn_;
        other.conn_ = nullptr;
    }
    return *this;
}

void PgConn::Reset() {
    if (conn_ != nullptr)
        PQfinish(conn_);
    conn_ = nullptr;
}

namespace {

PgFailure ClassifyConnectFailure(const std::string &message) {
    for (const char *needle : {"authentication failed", "pg_hba.conf", "password", "does not exist",
                               "permission denied", "invalid connection option", "missing \"=\"",
                               "invalid URI", "unterminated quoted string"})
        if (message.find(needle) != std::string::npos)
            return PgFailure::kAuthentication;
    return PgFailure::kConnect;
}

std::string Chomp(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

}  // namespace

std::optional<PgError> PgConn::Connect(const std::string &conninfo, bool replication, PgConn *out) {
    // Later keywords win: the user's conninfo may override the timeout and the application
    // name, but a replication connection is always replication=database.
    const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                          replication ? "replication" : nullptr, nullptr};
    const char *values[] = {"10", "snowcdc-shipper", conninfo.c_str(), "database", nullptr};
    PgConn conn;
    conn.conn_ = PQconnectdbParams(keys, values, 1);
    if (conn.conn_ == nullptr)
        return PgError{PgFailure::kConnect, "out of memory creating a libpq connection"};
    if (PQstatus(conn.conn_) != CONNECTION_OK) {
        std::string message = Chomp(PQerrorMessage(conn.conn_));
        PgFailure kind = ClassifyConnectFailure(message);
        return PgError{kind, "cannot connect to Postgres: " + message +
                                 (kind == PgFailure::kConnect
                                      ? " (will retry; check that the server is up)"
                                      : "; fix conninfo / PG* variables or pg_hba.conf")};
    }
    *out = std::move(conn);
    return std::nullopt;
}

std::optional<PgError> PgConn::Exec(const std::string &sql, ExecStatusType expected,
                                    PgResult *out) {
    PgResult res(PQexec(conn_, sql.c_str()));
    if (res.get() == nullptr || res.Status() != expected) {
        if (res.get() == nullptr || PQstatus(conn_) != CONNECTION_OK)
            return PgError{PgFailure::kStreamLost,
                           "connection lost running `" + sql + "`: " + ErrorMessage()};
        return ClassifyResult(res.get(), "`" + sql + "`");
    }
    if (out != nullptr)
        *out = std::move(res);
    return std::nullopt;
}

std::string PgConn::Literal(const std::string &text) const {
    std::unique_ptr<char, decltype(&PQfreemem)> quoted(
        PQescapeLiteral(conn_, text.c_str(), text.size()), &PQfreemem);
    return quoted ? std::string(quoted.get()) : std::string("NULL");
}

std::string PgConn::ErrorMessage() const {
    return conn_ == nullptr ? std::string("no connection") : Chomp(PQerrorMessage(conn_));
}

PgError ClassifyResult(const PGresult *res, const std::string &what) {
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string sqlstate = state != nullptr ? state : "";
    std::string message = Chomp(PQresultErrorMessage(res));
    if (message.empty())
        message = std::string("unexpected result ") + PQresStatus(PQresultStatus(res));
    std::string text = what + " failed: " + message;
    std::string cls = sqlstate.substr(0, 2);
    if (cls == "28")
        return {PgFailure::kAuthentication, text + "; fix the credentials"};
    if (sqlstate == "55006")
        return {PgFailure::kSlotBusy, text + " (another consumer holds the slot; will retry)"};
    if (sqlstate == "42501")  // insufficient_privilege
        return {PgFailure::kConfiguration,
                text +
                    "; grant the shipper's role what it needs: psql -v role=<role> -f "
                    "sql/postgres/shipper_role.sql"};
    if (cls == "42" || cls == "22" || sqlstate == "58P01" || sqlstate == "0A000")
        return {PgFailure::kConfiguration, text};
    if (cls == "08" || cls == "57" || cls == "53")
        return {PgFailure::kConnect, text + " (will retry)"};
    return {PgFailure::kQuery, text + " (will retry)"};
}

std::optional<uint64_t> ParseLsn(const std::string &text) {
    unsigned int hi = 0, lo = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "%X/%X%c", &hi, &lo, &tail) != 2)
        return std::nullopt;
    return (static_cast<uint64_t>(hi) << 32) | lo;
}

std::string FormatLsn(uint64_t lsn) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                  static_cast<unsigned>(lsn & 0xffffffffu));
    return buf;
}

}  // namespace snowcdc
