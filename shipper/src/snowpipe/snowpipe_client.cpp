// The Snowpipe Client: requests to the ingest host and the meaning of their answers.
#include "snowpipe/snowpipe_client.hpp"

#include <cstdio>
#include <random>

namespace snowcdc::snowpipe {

std::string CallResult::Describe() const {
    std::string text = OutcomeName(outcome);
    if (http_status != 0) {
        text += ", HTTP " + std::to_string(http_status);
    }
    if (!error.code.empty()) {
        text += " " + error.code;
    }
    if (!error.message.empty()) {
        text += ": " + error.message;
    }
    if (!detail.empty()) {
        text += " (" + detail + ")";
    }
    return text;
}

std::string NewRequestId() {
    thread_local std::mt19937_64 random(std::random_device{}());
    uint64_t high = random();
    uint64_t low = random();
    high = (high & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;    // RFC 4122 variant
    char text[40];
    std::snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%012llx",
                  static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xffff),
                  static_cast<unsigned>(high & 0xffff), static_cast<unsigned>(low >> 48),
                  static_cast<unsigned long long>(low & 0xffffffffffffULL));
    return text;
}

SnowpipeClient::SnowpipeClient(TokenSource &tokens, PipeAddress pipe)
    : tokens_(tokens), pipe_(std::move(pipe)) {}

std::string SnowpipeClient::PipePath() const {
    return "/databases/" + PercentEncode(pipe_.database) + "/schemas/" +
           PercentEncode(pipe_.schema) + "/pipes/" + PercentEncode(pipe_.pipe);
}

CallResult SnowpipeClient::Fatal(CallResult result) const {
    std::string role =
        tokens_.Config().role.empty() ? "the user's default role" : "role " + tokens_.Config().role;
    if (result.error.code == "ERR_PIPE_DOES_NOT_EXIST_OR_NOT_AUTHORIZED" ||
        result.http_status == 404) {
        result.detail = "pipe " + pipe_.Qualified() + " does not exist or " + role +
                        " may not use it: create it (snowcdc-shipper ddl) or GRANT OPERATE ON "
                        "PIPE and USAGE on its database and schema to " +
                        role;
    } else if (result.http_status == 403) {
        result.detail = role + " lacks a privilege on pipe " + pipe_.Qualified() +
                        ": GRANT OPERATE ON PIPE, INSERT on its table, USAGE on database and "
                        "schema";
    }
    return result;
}

// Attaches credentials, sends, and on a 401 exchanges the scoped token once and resends.
CallResult SnowpipeClient::Send(HttpRequest request, HttpResponse *response) {
    Grant ingest = tokens_.IngestUrl(http_);
    if (ingest.outcome != Outcome::kSuccess) {
        return CallResult{ingest.outcome, 0, {}, ingest.error};
    }
    request.url = ingest.value + request.url;
    request.headers.push_back("Accept: application/json");
    request.headers.push_back("User-Agent: " + tokens_.Config().user_agent);
    request.timeout = tokens_.Config().timeout;
    for (int attempt = 0; attempt < 2; ++attempt) {
        Grant token = tokens_.ScopedToken(http_);
        if (token.outcome != Outcome::kSuccess) {
            return CallResult{token.outcome, 0, {}, token.error};
        }
        // The header is added for this attempt only; the body is never copied.
        request.headers.push_back("Authorization: Bearer " + token.value);
        *response = http_.Perform(request);
        request.headers.pop_back();
        CallResult result;
        result.http_status = response->status;
        result.detail = response->transport_error;
        if (response->transport == TransportStatus::kOk &&
            (response->status < 200 || response->status >= 300)) {
            result.error = ParseErrorBody(response->body);
        }
        result.outcome = Classify(*response, result.error);
        if (result.outcome != Outcome::kRefreshToken) {
            return result.outcome == Outcome::kFatal ? Fatal(result) : result;
        }
        tokens_.Invalidate(token.value);
    }
    // Refused twice in a row: the caller backs off and, if it keeps happening, stops.
    return CallResult{Outcome::kRefreshToken, 401, ParseErrorBody(response->body),
                      "the ingest host refused a freshly exchanged scoped token for pipe " +
                          pipe_.Qualified() + ": check SNOWFLAKE_ROLE and its grants"};
}

CallResult SnowpipeClient::OpenChannel(const std::string &channel, const std::string &request_id,
                                       OpenAnswer *answer) {
    HttpRequest request;
    request.method = "PUT";
    request.url = "/v2/streaming" + PipePath() + "/channels/" + PercentEncode(channel) +
                  "?requestId=" + PercentEncode(request_id);
    request.headers.push_back("Content-Type: application/json");
    request.body = "{}";
    HttpResponse response;
    CallResult result = Send(request, &response);
    if (result.Ok()) {
        std::optional<OpenAnswer> parsed = ParseOpenAnswer(response.body);
        if (!parsed) {
            return CallResult{Outcome::kRetry, response.status, {}, "unreadable open answer"};
        }
        *answer = *parsed;
    }
    return result;
}

CallResult SnowpipeClient::Append(const AppendRequest &append, AppendAnswer *answer,
                                  std::string *session) {
    HttpRequest request;
    request.method = "POST";
    request.url = "/v2/streaming/data" + PipePath() + "/channels/" + PercentEncode(append.channel) +
                  "/rows?continuationToken=" + PercentEncode(append.continuation_token) +
                  "&startOffsetToken=" + PercentEncode(append.start_offset_token) +
                  "&endOffsetToken=" + PercentEncode(append.end_offset_token) +
                  "&requestId=" + PercentEncode(append.request_id);
    request.headers.push_back("Content-Type: application/x-ndjson");
    if (append.compression != Compression::kNone) {
        request.headers.push_back(std::string("Content-Encoding: ") +
                                  ContentEncoding(append.compression));
        request.headers.push_back("x-snowflake-uncompressed-content-length: " +
                                  std::to_string(append.uncompressed_size));
    }
    if (!append.session.empty()) {
        request.headers.push_back("x-snowflake-session: " + append.session);
    }
    request.body_ref = &append.body;
    HttpResponse response;
    CallResult result = Send(request, &response);
    if (!result.Ok()) {
        return result;
    }
    std::optional<AppendAnswer> parsed = ParseAppendAnswer(response.body);
    if (!parsed) {
        // A 2xx whose body we cannot read: the rows may have been taken.
        return CallResult{
            Outcome::kUnknownOutcome, response.status, {}, "unreadable append answer"};
    }
    if (parsed->status_code != 0) {
        ApiError error{parsed->message, parsed->message};
        Outcome outcome = Classify(HttpResponse{TransportStatus::kOk, "", 400, "", {}}, error);
        return CallResult{outcome == Outcome::kFatal ? Outcome::kReopen : outcome, response.status,
                          error,
                          "append answered status_code " + std::to_string(parsed->status_code)};
    }
    *answer = *parsed;
    std::string new_session = response.Header("x-snowflake-session");
    if (!new_session.empty()) {
        *session = new_session;
    }
    return result;
}

CallResult SnowpipeClient::BulkStatus(const std::vector<std::string> &channels,
                                      const std::string &request_id,
                                      std::map<std::string, ChannelStatus> *statuses) {
    HttpRequest request;
    request.method = "POST";
    request.url = "/v2/streaming" + PipePath() +
                  ":bulk-channel-status?requestId=" + PercentEncode(request_id);
    request.headers.push_back("Content-Type: application/json");
    request.body = nlohmann::json{{"channel_names", channels}}.dump();
    HttpResponse response;
    CallResult result = Send(request, &response);
    if (result.Ok()) {
        auto parsed = ParseBulkStatusAnswer(response.body);
        if (!parsed) {
            return CallResult{Outcome::kRetry, response.status, {}, "unreadable status answer"};
        }
        *statuses = std::move(*parsed);
    }
    return result;
}

CallResult SnowpipeClient::DropChannel(const std::string &channel, const std::string &request_id) {
    HttpRequest request;
    request.method = "DELETE";
    request.url = "/v2/streaming" + PipePath() + "/channels/" + PercentEncode(channel) +
                  "?requestId=" + PercentEncode(request_id);
    HttpResponse response;
    return Send(request, &response);
}

}  // namespace snowcdc::snowpipe
