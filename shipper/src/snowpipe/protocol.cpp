// The Snowpipe Streaming wire format: tokens, URLs, answer parsing, answer classification.
#include "snowpipe/protocol.hpp"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>

namespace snowcdc::snowpipe {
namespace {

using nlohmann::json;

std::string Lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view Trim(std::string_view text) {
    size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) {
        return {};
    }
    size_t end = text.find_last_not_of(" \t\r\n");
    return text.substr(start, end - start + 1);
}

// A JSON string body ("...") or plain text; nullopt when it is a JSON object or array.
std::optional<std::string> BareText(std::string_view body) {
    std::string_view trimmed = Trim(body);
    if (trimmed.empty() || trimmed.front() == '{' || trimmed.front() == '[') {
        return std::nullopt;
    }
    json parsed = json::parse(trimmed, nullptr, false);
    if (parsed.is_string()) {
        return parsed.get<std::string>();
    }
    return std::string(trimmed);
}

std::optional<std::string> StringField(const json &object, const char *name) {
    auto it = object.find(name);
    if (it == object.end() || it->is_null()) {
        return std::nullopt;
    }
    return it->is_string() ? it->get<std::string>() : it->dump();
}

int64_t IntField(const json &object, const char *name) {
    auto it = object.find(name);
    return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

bool HasPrefix(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

bool NeedsReopen(const std::string &code) {
    return code == "STALE_CONTINUATION_TOKEN_SEQUENCER" || code == "STALE_PIPE_CACHE" ||
           HasPrefix(code, "ERR_CHANNEL_MUST_BE_REOPENED") ||
           (HasPrefix(code, "ERR_CHANNEL_HAS_INVALID_") && code.size() >= 10 &&
            code.compare(code.size() - 10, 10, "_SEQUENCER") == 0);
}

}  // namespace

std::string FormatOffsetToken(StreamPosition pos) {
    char text[32];
    std::snprintf(text, sizeof(text), "%016" PRIx64 "/%08" PRIx32, pos.lsn, pos.seq);
    return text;
}

std::optional<StreamPosition> ParseOffsetToken(std::string_view token) {
    if (token.size() != 25 || token[16] != '/') {
        return std::nullopt;
    }
    auto hex = [](std::string_view digits, uint64_t *out) {
        uint64_t value = 0;
        for (char c : digits) {
            int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                    : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                                                                : -1;
            if (v < 0) {
                return false;
            }
            value = value * 16 + static_cast<uint64_t>(v);
        }
        *out = value;
        return true;
    };
    uint64_t lsn = 0;
    uint64_t seq = 0;
    if (!hex(token.substr(0, 16), &lsn) || !hex(token.substr(17), &seq)) {
        return std::nullopt;
    }
    return StreamPosition{lsn, static_cast<uint32_t>(seq)};
}

std::string PercentEncode(std::string_view text) {
    static const char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

std::string AccountUrl(std::string_view account) {
    std::string host = Lower(account);
    std::replace(host.begin(), host.end(), '_', '-');
    return "https://" + host + ".snowflakecomputing.com";
}

std::string NormalizeIngestHost(std::string_view host) {
    std::string_view trimmed = Trim(host);
    while (!trimmed.empty() && (trimmed.front() == '"' || trimmed.front() == '\'')) {
        trimmed.remove_prefix(1);
    }
    while (!trimmed.empty() && (trimmed.back() == '"' || trimmed.back() == '\'')) {
        trimmed.remove_suffix(1);
    }
    std::string url = Lower(Trim(trimmed));
    size_t scheme = url.find("://");
    size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
    std::replace(url.begin() + static_cast<std::ptrdiff_t>(host_start), url.end(), '_', '-');
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    return scheme == std::string::npos ? "https://" + url : url;
}

std::optional<std::string> ParseHostnameAnswer(std::string_view body) {
    if (std::optional<std::string> bare = BareText(body)) {
        return bare->empty() ? std::nullopt
                             : std::optional<std::string>(NormalizeIngestHost(*bare));
    }
    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_object()) {
        return std::nullopt;
    }
    std::optional<std::string> host = StringField(parsed, "hostname");
    return host ? std::optional<std::string>(NormalizeIngestHost(*host)) : std::nullopt;
}

std::optional<std::string> ParseTokenAnswer(std::string_view body) {
    if (std::optional<std::string> bare = BareText(body)) {
        std::string token(Trim(*bare));
        return token.empty() ? std::nullopt : std::optional<std::string>(token);
    }
    json parsed = json::parse(body, nullptr, false);
    return parsed.is_object() ? StringField(parsed, "token") : std::nullopt;
}

ApiError ParseErrorBody(std::string_view body) {
    ApiError error;
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_string()) {
        error.code = parsed.get<std::string>();
        return error;
    }
    if (!parsed.is_object()) {
        error.message = std::string(Trim(body).substr(0, 300));
        return error;
    }
    error.code =
        StringField(parsed, "code").value_or(StringField(parsed, "error_code").value_or(""));
    error.message = StringField(parsed, "message").value_or("");
    return error;
}

ChannelStatus ParseChannelStatus(const json &status) {
    ChannelStatus out;
    if (!status.is_object()) {
        return out;
    }
    out.status_code = StringField(status, "channel_status_code").value_or("");
    out.last_committed_offset_token = StringField(status, "last_committed_offset_token");
    out.rows_inserted = IntField(status, "rows_inserted");
    out.rows_parsed = IntField(status, "rows_parsed");
    out.rows_error_count =
        std::max(IntField(status, "rows_error_count"), IntField(status, "rows_errors"));
    out.last_error_message = StringField(status, "last_error_message").value_or("");
    out.last_error_offset_upper_bound = StringField(status, "last_error_offset_upper_bound");
    return out;
}

std::optional<OpenAnswer> ParseOpenAnswer(std::string_view body) {
    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_object()) {
        return std::nullopt;
    }
    std::optional<std::string> token = StringField(parsed, "next_continuation_token");
    auto status = parsed.find("channel_status");
    if (!token || status == parsed.end()) {
        return std::nullopt;
    }
    return OpenAnswer{*token, ParseChannelStatus(*status)};
}

std::optional<AppendAnswer> ParseAppendAnswer(std::string_view body) {
    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_object()) {
        return std::nullopt;
    }
    std::optional<std::string> token = StringField(parsed, "next_continuation_token");
    if (!token) {
        return std::nullopt;
    }
    AppendAnswer answer;
    answer.continuation_token = *token;
    answer.status_code = IntField(parsed, "status_code");
    answer.message = StringField(parsed, "message").value_or("");
    return answer;
}

std::optional<std::map<std::string, ChannelStatus>> ParseBulkStatusAnswer(std::string_view body) {
    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("channel_statuses") ||
        !parsed["channel_statuses"].is_object()) {
        return std::nullopt;
    }
    std::map<std::string, ChannelStatus> statuses;
    for (const auto &[name, status] : parsed["channel_statuses"].items()) {
        statuses[name] = ParseChannelStatus(status);
    }
    return statuses;
}

const char *OutcomeName(Outcome outcome) {
    switch (outcome) {
        case Outcome::kSuccess:
            return "success";
        case Outcome::kRetry:
            return "retry";
        case Outcome::kUnknownOutcome:
            return "unknown outcome";
        case Outcome::kRefreshToken:
            return "refresh token";
        case Outcome::kReopen:
            return "re-open channel";
        case Outcome::kFatal:
            return "fatal";
    }
    return "?";
}

Outcome Classify(const HttpResponse &response, const ApiError &error) {
    switch (response.transport) {
        case TransportStatus::kOk:
            break;
        case TransportStatus::kConnectFailed:
            return Outcome::kRetry;
        case TransportStatus::kConnectionLost:
        case TransportStatus::kTimeout:
            return Outcome::kUnknownOutcome;
        case TransportStatus::kLocalError:
            return Outcome::kFatal;
    }
    long status = response.status;
    if (NeedsReopen(error.code)) {
        return Outcome::kReopen;
    }
    if (status >= 200 && status < 300) {
        return Outcome::kSuccess;
    }
    if (status == 401) {
        return Outcome::kRefreshToken;
    }
    if (status == 409) {
        return error.code == "ERR_OPEN_CHANNEL_IN_PROGRESS" ? Outcome::kRetry : Outcome::kReopen;
    }
    if (status == 408 || status == 429 || status >= 500 ||
        error.code == "ERR_GENERAL_EXCEPTION_RETRY_REQUEST") {
        return Outcome::kRetry;
    }
    if (status == 404 && error.code.find("CHANNEL") != std::string::npos) {
        return Outcome::kReopen;
    }
    return Outcome::kFatal;
}

}  // namespace snowcdc::snowpipe
