// Replication stream (see replication_stream.hpp). Message layouts are those of the
// streaming replication protocol: XLogData 'w', primary keepalive 'k', standby status 'r'.
#include "replication_stream.hpp"

#include <poll.h>

#include <chrono>

#include "log.hpp"
#include "settings.hpp"

namespace snowcdc {

namespace {

uint64_t ReadU64(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

void WriteU64(char *p, uint64_t v) {
    for (int i = 7; i >= 0; --i, v >>= 8)
        p[i] = static_cast<char>(v & 0xff);
}

// Microseconds since 2000-01-01, the protocol's clock.
int64_t PgEpochNowUs() {
    constexpr int64_t kUnixToPgEpochUs = 946684800LL * 1000000LL;
    auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::microseconds>(now).count() - kUnixToPgEpochUs;
}

std::string TrimSpaces(const std::string &s) {
    size_t b = s.find_first_not_of(' ');
    size_t e = s.find_last_not_of(' ');
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string QuoteOptionValue(const std::string &value) {
    std::string out = "'";
    for (char c : value)
        out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

}  // namespace

bool ValidSlotName(const std::string &slot) {
    if (slot.empty() || slot.size() > 63)
        return false;
    for (char c : slot)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    return true;
}

std::vector<std::pair<std::string, std::string>> ParsePluginOptions(const std::string &text) {
    // Entries are separated by commas; a value in single quotes may hold commas (list-valued
    // options such as include-tables), and '' inside it is one quote.
    std::vector<std::string> items;
    std::string item;
    bool quoted = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (quoted) {
            if (c != '\'')
                item += c;
            else if (i + 1 < text.size() && text[i + 1] == '\'')
                item += text[++i];
            else
                quoted = false;
        } else if (c == '\'') {
            quoted = true;
        } else if (c == ',') {
            items.push_back(std::move(item));
            item.clear();
        } else {
            item += c;
        }
    }
    if (quoted)
        throw ConfigError("setting plugin_options: a quoted value is not closed in '" + text +
                          "'; write e.g. include-tables='public.a,public.b'");
    items.push_back(std::move(item));

    std::vector<std::pair<std::string, std::string>> options;
    for (const std::string &raw : items) {
        std::string entry = TrimSpaces(raw);
        if (entry.empty())
            continue;
        size_t eq = entry.find('=');
        std::string name = TrimSpaces(entry.substr(0, eq));
        if (name.empty() || name.find_first_of(" \"'") != std::string::npos)
            throw ConfigError("setting plugin_options: '" + entry +
                              "' is not name=value; write e.g. "
                              "before=on,include-tables='public.a,public.b'");
        options.emplace_back(name,
                             eq == std::string::npos ? "on" : TrimSpaces(entry.substr(eq + 1)));
    }
    return options;
}

std::optional<PgError> ReplicationStream::Connect(const std::string &conninfo) {
    Reset();
    if (auto error = PgConn::Connect(conninfo, true, &conn_))
        return error;
    PQsetnonblocking(conn_.get(), 1);
    return std::nullopt;
}

std::optional<PgError> ReplicationStream::FindSlot(const std::string &slot, bool *exists,
                                                   uint64_t *confirmed) {
    PgResult res;
    std::string sql =
        "SELECT plugin, confirmed_flush_lsn::text FROM pg_catalog.pg_replication_slots "
        "WHERE slot_name = " +
        conn_.Literal(slot) + " AND database = current_database()";
    if (auto error = conn_.Exec(sql, PGRES_TUPLES_OK, &res))
        return error;
    *exists = res.Rows() == 1;
    if (!*exists)
        return std::nullopt;
    if (res.Value(0, 0) != kPlugin)
        return PgError{PgFailure::kConfiguration,
                       "slot " + slot + " uses plugin " + res.Value(0, 0) + ", not " + kPlugin +
                           "; pick another slot name or drop it with SELECT "
                           "pg_drop_replication_slot('" +
                           slot + "')"};
    *confirmed = res.IsNull(0, 1) ? 0 : ParseLsn(res.Value(0, 1)).value_or(0);
    return std::nullopt;
}

std::optional<PgError> ReplicationStream::PrepareSlot(const std::string &slot, bool create,
                                                      uint64_t *confirmed) {
    bool exists = false;
    if (auto error = FindSlot(slot, &exists, confirmed))
        return error;
    if (exists)
        return std::nullopt;
    if (!create)
        return PgError{PgFailure::kConfiguration,
                       "slot " + slot +
                           " does not exist in this database; create it or run "
                           "with --create-slot true"};
    return CreateSlot(slot, false, confirmed, nullptr);
}

std::optional<PgError> ReplicationStream::CreateSlot(const std::string &slot, bool export_snapshot,
                                                     uint64_t *consistent_point,
                                                     std::string *snapshot_name) {
    PgResult res;
    std::string sql = "CREATE_REPLICATION_SLOT " + slot + " LOGICAL " + kPlugin +
                      (export_snapshot ? " EXPORT_SNAPSHOT" : " NOEXPORT_SNAPSHOT");
    if (auto error = conn_.Exec(sql, PGRES_TUPLES_OK, &res))
        return error;
    *consistent_point = ParseLsn(res.Value(0, 1)).value_or(0);
    if (snapshot_name != nullptr)
        *snapshot_name = res.IsNull(0, 2) ? "" : res.Value(0, 2);
    LogInfo("created replication slot",
            {{"plugin", kPlugin}, {"consistent_point", res.Value(0, 1)}});
    return std::nullopt;
}

std::optional<PgError> ReplicationStream::Start(
    const std::string &slot, const std::vector<std::pair<std::string, std::string>> &options) {
    std::string sql = "START_REPLICATION SLOT " + slot + " LOGICAL 0/0";
    std::string list;
    for (const auto &[name, value] : options)
        list += (list.empty() ? "" : ", ") + ("\"" + name + "\" ") + QuoteOptionValue(value);
    if (!list.empty())
        sql += " (" + list + ")";
    // PQexec waits for the server's answer even on a non-blocking connection.
    return conn_.Exec(sql, PGRES_COPY_BOTH, nullptr);
}

std::optional<PgError> ReplicationStream::ConsumeInput() {
    if (PQconsumeInput(conn_.get()) == 0)
        return PgError{PgFailure::kStreamLost,
                       "replication connection failed: " + conn_.ErrorMessage()};
    return std::nullopt;
}

ReadStatus ReplicationStream::Read(StreamMessage *out, PgError *error) {
    char *raw = nullptr;
    int n = PQgetCopyData(conn_.get(), &raw, 1);
    buffer_.reset(raw);
    if (n == 0)
        return ReadStatus::kWouldBlock;
    if (n < 0) {
        PgResult res(PQgetResult(conn_.get()));
        *error = n == -1 && res.get() != nullptr && res.Status() != PGRES_COMMAND_OK
                     ? ClassifyResult(res.get(), "replication stream")
                     : PgError{PgFailure::kStreamLost,
                               "replication stream ended: " + conn_.ErrorMessage()};
        return ReadStatus::kError;
    }
    if (raw[0] == 'w' && n >= 25) {
        *out = {StreamMessage::Type::kData, ReadU64(raw + 1), ReadU64(raw + 9), false,
                std::string_view(raw + 25, static_cast<size_t>(n) - 25)};
        return ReadStatus::kMessage;
    }
    if (raw[0] == 'k' && n >= 18) {
        *out = {StreamMessage::Type::kKeepalive, 0, ReadU64(raw + 1), raw[17] != 0, {}};
        return ReadStatus::kMessage;
    }
    *error = {PgFailure::kProtocol,
              std::string("unexpected replication message type '") + raw[0] + "'"};
    return ReadStatus::kError;
}

std::optional<PgError> ReplicationStream::SendStatus(uint64_t written, uint64_t flushed,
                                                     bool reply_requested) {
    char msg[34];
    msg[0] = 'r';
    WriteU64(msg + 1, written);
    WriteU64(msg + 9, flushed);
    WriteU64(msg + 17, flushed);
    WriteU64(msg + 25, static_cast<uint64_t>(PgEpochNowUs()));
    msg[33] = reply_requested ? 1 : 0;
    if (PQputCopyData(conn_.get(), msg, sizeof msg) != 1)
        return PgError{PgFailure::kStreamLost,
                       "cannot send status to Postgres: " + conn_.ErrorMessage()};
    return std::nullopt;
}

bool ReplicationStream::FlushPending(PgError *error) {
    int rc = PQflush(conn_.get());
    if (rc < 0)
        *error = {PgFailure::kStreamLost, "cannot send to Postgres: " + conn_.ErrorMessage()};
    return rc == 1;
}

void ReplicationStream::Finish() {
    if (!conn_)
        return;
    PgError ignored;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    if (PQputCopyEnd(conn_.get(), nullptr) == 1) {
        // Wait for the server to end its side; discard data it sent meanwhile.
        while (std::chrono::steady_clock::now() < deadline) {
            bool pending = FlushPending(&ignored);
            StreamMessage msg;
            ReadStatus status;
            while ((status = Read(&msg, &ignored)) == ReadStatus::kMessage) {
            }
            if (status == ReadStatus::kError)
                break;
            pollfd pfd{Socket(), static_cast<short>(POLLIN | (pending ? POLLOUT : 0)), 0};
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <= 0 ||
                ConsumeInput())
                break;
        }
    }
    Reset();
}

}  // namespace snowcdc
