// The Snowpipe Client: one call per protocol operation (open, append, bulk status, drop)
// against the ingest host, with the scoped token attached and one token refresh on a 401
// (a second 401 comes back as kRefreshToken: the caller backs off, and stops if it lasts).
// Retries and re-opens are the caller's (the channel), which knows what is safe to repeat.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "snowpipe/compression.hpp"
#include "snowpipe/http_transport.hpp"
#include "snowpipe/protocol.hpp"
#include "snowpipe/token_source.hpp"

namespace snowcdc::snowpipe {

struct PipeAddress {
    std::string database;  // exactly as stored (upper case for unquoted names)
    std::string schema;
    std::string pipe;

    std::string Qualified() const { return database + "." + schema + "." + pipe; }
};

struct CallResult {
    Outcome outcome = Outcome::kSuccess;
    long http_status = 0;
    ApiError error;
    std::string detail;  // transport error or what was wrong with the answer

    bool Ok() const { return outcome == Outcome::kSuccess; }
    std::string Describe() const;
};

struct AppendRequest {
    std::string channel;
    std::string continuation_token;
    std::string start_offset_token;
    std::string end_offset_token;
    std::string request_id;
    std::string body;  // NDJSON, already compressed when `compression` is not kNone
    Compression compression = Compression::kNone;
    size_t uncompressed_size = 0;
    std::string session;  // x-snowflake-session from an earlier answer on this channel
};

// A random UUID (version 4) for requestId.
std::string NewRequestId();

class SnowpipeClient {
  public:
    SnowpipeClient(TokenSource &tokens, PipeAddress pipe);

    CallResult OpenChannel(const std::string &channel, const std::string &request_id,
                           OpenAnswer *answer);
    // On success `*session` is updated when the answer carried x-snowflake-session.
    CallResult Append(const AppendRequest &request, AppendAnswer *answer, std::string *session);
    CallResult BulkStatus(const std::vector<std::string> &channels, const std::string &request_id,
                          std::map<std::string, ChannelStatus> *statuses);
    CallResult DropChannel(const std::string &channel, const std::string &request_id);

    const PipeAddress &Pipe() const { return pipe_; }

  private:
    std::string PipePath() const;
    CallResult Send(HttpRequest request, HttpResponse *response);
    CallResult Fatal(CallResult result) const;

    TokenSource &tokens_;
    PipeAddress pipe_;
    HttpClient http_;
};

}  // namespace snowcdc::snowpipe
