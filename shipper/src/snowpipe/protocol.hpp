// The Snowpipe Streaming wire format, without I/O: offset tokens, URLs, answer parsing (both
// the documented and the observed forms), and the one function that decides what an answer
// means for the caller (success, retry, refresh the token, re-open the channel, or stop).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sink.hpp"
#include "snowpipe/http_transport.hpp"

namespace snowcdc::snowpipe {

// "<16 hex digits of lsn>/<8 hex digits of seq>": fixed width, so string order is stream order.
std::string FormatOffsetToken(StreamPosition pos);
std::optional<StreamPosition> ParseOffsetToken(std::string_view token);

// RFC 3986 unreserved characters stay, everything else becomes %XX.
std::string PercentEncode(std::string_view text);
// https://<account>.snowflakecomputing.com, lower-case, '_' -> '-'.
std::string AccountUrl(std::string_view account);
// The ingest host as a base URL: trims, strips quotes, '_' -> '-', lower-case, adds https://.
std::string NormalizeIngestHost(std::string_view host);

// GET /v2/streaming/hostname: {"hostname": "..."} (documented) or the bare name (observed).
std::optional<std::string> ParseHostnameAnswer(std::string_view body);
// POST /oauth/token: {"token": "..."} (documented) or the raw token text (observed).
std::optional<std::string> ParseTokenAnswer(std::string_view body);

struct ApiError {
    std::string code;  // "" when the body named none
    std::string message;
};
// {"code": ..., "message": ...}, {"error_code": ..., "message": ...} or a bare JSON string.
ApiError ParseErrorBody(std::string_view body);

struct ChannelStatus {
    std::string status_code;
    std::optional<std::string> last_committed_offset_token;
    int64_t rows_inserted = 0;
    int64_t rows_parsed = 0;
    int64_t rows_error_count = 0;  // `rows_error_count` or, in some answers, `rows_errors`
    std::string last_error_message;
    std::optional<std::string> last_error_offset_upper_bound;

    // SUCCESS (observed) or ACTIVE (documented); anything else: re-open the channel.
    bool Usable() const { return status_code == "SUCCESS" || status_code == "ACTIVE"; }
};
ChannelStatus ParseChannelStatus(const nlohmann::json &status);

struct OpenAnswer {
    std::string continuation_token;
    ChannelStatus status;
};
std::optional<OpenAnswer> ParseOpenAnswer(std::string_view body);

struct AppendAnswer {
    std::string continuation_token;
    int64_t status_code = 0;  // 0 = success when present
    std::string message;
};
std::optional<AppendAnswer> ParseAppendAnswer(std::string_view body);

// POST ...:bulk-channel-status: channels that do not exist are absent from the map.
std::optional<std::map<std::string, ChannelStatus>> ParseBulkStatusAnswer(std::string_view body);

enum class Outcome {
    kSuccess,
    kRetry,           // transient: back off and send the same request (same request id)
    kUnknownOutcome,  // the request may or may not have been applied (answer lost)
    kRefreshToken,    // 401: exchange the scoped token again, then retry once
    kReopen,          // the channel must be re-opened and unconfirmed rows replayed
    kFatal,           // retrying cannot help; stop with a message that names the fix
};
const char *OutcomeName(Outcome outcome);

// The one place that maps transport results, HTTP statuses and error codes onto Outcome.
Outcome Classify(const HttpResponse &response, const ApiError &error);

}  // namespace snowcdc::snowpipe
