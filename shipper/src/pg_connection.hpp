// libpq ownership and failure classification: PgResult and PgConn own their C handles
// (copy deleted, move noexcept, one cleanup site), and every libpq failure becomes a
// PgError value whose kind decides, in one function, whether to retry.
#pragma once

#include <libpq-fe.h>

#include <optional>
#include <string>

namespace snowcdc {

enum class PgFailure {
    kConnect,         // cannot reach the server or it is starting/stopping: retry
    kAuthentication,  // rejected credentials or pg_hba.conf: fix the settings
    kConfiguration,   // bad slot, plugin, option, permission: fix the settings
    kSlotBusy,        // another process streams from the slot: retry
    kQuery,           // a statement failed for another reason: retry
    kStreamLost,      // the replication stream ended or the socket failed: retry
    kProtocol,        // the server sent something the shipper does not understand: retry
};

struct PgError {
    PgFailure kind;
    std::string message;  // what failed and how to fix it
};

// The single retryable-or-fatal decision for Postgres failures.
bool IsRetryable(PgFailure kind);
const char *PgFailureName(PgFailure kind);

class PgResult {
  public:
    PgResult() = default;
    explicit PgResult(PGresult *res) : res_(res) {}
    ~PgResult() { Reset(); }
    PgResult(const PgResult &) = delete;
    PgResult &operator=(const PgResult &) = delete;
    PgResult(PgResult &&other) noexcept : res_(other.res_) { other.res_ = nullptr; }
    PgResult &operator=(PgResult &&other) noexcept;

    PGresult *get() const { return res_; }
    ExecStatusType Status() const { return PQresultStatus(res_); }
    int Rows() const { return PQntuples(res_); }
    std::string Value(int row, int col) const { return PQgetvalue(res_, row, col); }
    bool IsNull(int row, int col) const { return PQgetisnull(res_, row, col) != 0; }
    void Reset();

  private:
    PGresult *res_ = nullptr;
};

class PgConn {
  public:
    PgConn() = default;
    ~PgConn() { Reset(); }
    PgConn(const PgConn &) = delete;
    PgConn &operator=(const PgConn &) = delete;
    PgConn(PgConn &&other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
    PgConn &operator=(PgConn &&other) noexcept;

    // `conninfo` is the user's string or URI ("" = libpq defaults and PG* variables);
    // replication=database is added when `replication` is set.
    static std::optional<PgError> Connect(const std::string &conninfo, bool replication,
                                          PgConn *out);

    PGconn *get() const { return conn_; }
    explicit operator bool() const { return conn_ != nullptr; }
    // Runs one simple-protocol statement and checks that it returned `expected`.
    std::optional<PgError> Exec(const std::string &sql, ExecStatusType expected, PgResult *out);
    std::string Literal(const std::string &text) const;
    std::string ErrorMessage() const;
    void Reset();

  private:
    PGconn *conn_ = nullptr;
};

// Maps a failed result (by SQLSTATE) onto a PgError; `what` says what was attempted.
PgError ClassifyResult(const PGresult *res, const std::string &what);

// "16/B374D848" <-> 64-bit LSN.
std::optional<uint64_t> ParseLsn(const std::string &text);
std::string FormatLsn(uint64_t lsn);

}  // namespace snowcdc
