// Replication stream: the logical replication protocol over one libpq connection in
// replication=database mode. Prepares the slot (creates it with the snowcdc plugin, refuses
// one of another plugin), starts streaming from the slot's confirmed position, reads
// XLogData and keepalive messages without blocking, and sends standby status updates.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg_connection.hpp"

namespace snowcdc {

struct StreamMessage {
    enum class Type { kData, kKeepalive } type = Type::kData;
    uint64_t wal_start = 0;        // data: WAL position of this message
    uint64_t wal_end = 0;          // server's current end of WAL
    bool reply_requested = false;  // keepalive: answer at once or be disconnected
    std::string_view payload;      // data: the record, valid until the next Read()
};

enum class ReadStatus { kMessage, kWouldBlock, kError };

class ReplicationStream {
  public:
    static constexpr const char *kPlugin = "snowcdc";

    // Connects in replication=database mode.
    std::optional<PgError> Connect(const std::string &conninfo);
    // Makes sure `slot` exists with the snowcdc plugin; *confirmed = its confirmed_flush_lsn.
    std::optional<PgError> PrepareSlot(const std::string &slot, bool create, uint64_t *confirmed);
    // *exists: `slot` is in this database (an error if it uses another plugin).
    std::optional<PgError> FindSlot(const std::string &slot, bool *exists, uint64_t *confirmed);
    // CREATE_REPLICATION_SLOT; with export_snapshot, *snapshot_name stays importable (SET
    // TRANSACTION SNAPSHOT) until the next command on this connection.
    std::optional<PgError> CreateSlot(const std::string &slot, bool export_snapshot,
                                      uint64_t *consistent_point, std::string *snapshot_name);
    // START_REPLICATION from the slot's confirmed position with the given plugin options.
    std::optional<PgError> Start(const std::string &slot,
                                 const std::vector<std::pair<std::string, std::string>> &options);

    int Socket() const { return PQsocket(conn_.get()); }
    // Reads pending input from the socket (call when poll says it is readable).
    std::optional<PgError> ConsumeInput();
    // Takes the next complete message without blocking.
    ReadStatus Read(StreamMessage *out, PgError *error);
    // Queues a standby status update: `written` received, `flushed` durable (confirmed).
    std::optional<PgError> SendStatus(uint64_t written, uint64_t flushed, bool reply_requested);
    // Pushes queued output; true while some of it is still waiting for the socket.
    bool FlushPending(PgError *error);
    // Ends the stream politely (CopyDone), waiting at most a few seconds for the server.
    void Finish();
    void Reset() {
        buffer_.reset();
        conn_.Reset();
    }
    bool Connected() const { return static_cast<bool>(conn_); }

  private:
    struct FreeMem {
        void operator()(char *p) const { PQfreemem(p); }
    };

    PgConn conn_;
    std::unique_ptr<char, FreeMem> buffer_;  // the last message handed out by Read()
};

// Parses "a=1,b=on,c='x,y'" into option pairs (a quoted value may hold commas, '' is a quote);
// throws ConfigError naming a malformed entry.
std::vector<std::pair<std::string, std::string>> ParsePluginOptions(const std::string &text);
// True for names Postgres accepts as slot names: [a-z0-9_], 1..63 characters.
bool ValidSlotName(const std::string &slot);

}  // namespace snowcdc
