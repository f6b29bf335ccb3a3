// The Snowpipe Streaming test double: HTTP routes, JWT checks, the channel state model.
#include "snowpipe_double.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <stdexcept>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <zstd.h>

namespace snowcdc::testing {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// The double decodes on its own instead of sharing the client's helpers, so that a bug in
// one is not hidden by the same bug in the other.
std::optional<std::string> DecodeBase64Url(const std::string &text) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *at = std::strchr(alphabet, c);
        if (c == '\0' || at == nullptr) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<uint32_t>(at - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

std::string EncodeBase64Url(const std::string &bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(bytes.data()),
                            static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    while (!out.empty() && out.back() == '=') {
        out.pop_back();
    }
    std::replace(out.begin(), out.end(), '+', '-');
    std::replace(out.begin(), out.end(), '/', '_');
    return out;
}

int64_t NowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string BearerToken(const httplib::Request &req) {
    std::string header = req.get_header_value("Authorization");
    return header.rfind("Bearer ", 0) == 0 ? header.substr(7) : std::string();
}

std::vector<std::string> SplitRows(const std::string &body) {
    std::vector<std::string> rows;
    size_t start = 0;
    while (start < body.size()) {
        size_t end = body.find('\n', start);
        if (end == std::string::npos) {
            end = body.size();
        }
        if (end > start) {
            rows.push_back(body.substr(start, end - start));
        }
        start = end + 1;
    }
    return rows;
}

// Whether a row is one JSON object. json::accept() validates without building a DOM,
// which keeps the double's CPU (it shares the machine with the shipper in benchmarks) low.
bool IsJsonObject(std::string_view row) {
    size_t start = row.find_first_not_of(" \t\r\n");
    return start != std::string_view::npos && row[start] == '{' && json::accept(row);
}

std::optional<std::string> Decompress(const httplib::Request &req) {
    std::string encoding = req.get_header_value("Content-Encoding");
    if (encoding.empty() || encoding == "identity") {
        return req.body;
    }
    if (encoding == "gzip") {
        // cpp-httplib inflates gzip request bodies itself before the handler runs.
        bool still_gzip = req.body.size() >= 2 && static_cast<unsigned char>(req.body[0]) == 0x1f &&
                          static_cast<unsigned char>(req.body[1]) == 0x8b;
        return still_gzip ? std::nullopt : std::optional<std::string>(req.body);
    }
    if (encoding != "zstd") {
        return std::nullopt;
    }
    unsigned long long size = ZSTD_getFrameContentSize(req.body.data(), req.body.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
        return std::nullopt;
    }
    std::string out(size, '\0');
    size_t got = ZSTD_decompress(out.data(), out.size(), req.body.data(), req.body.size());
    if (ZSTD_isError(got) || got != size) {
        return std::nullopt;
    }
    return out;
}

}  // namespace

SnowpipeDouble::SnowpipeDouble(DoubleOptions options) : options_(std::move(options)) {
    BIO *bio = BIO_new_mem_buf(options_.public_key_pem.data(),
                               static_cast<int>(options_.public_key_pem.size()));
    EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (key == nullptr) {
        throw std::runtime_error("snowpipe double: no usable public key registered (PEM SPKI)");
    }
    public_key_ =
        std::shared_ptr<void>(key, [](void *k) { EVP_PKEY_free(static_cast<EVP_PKEY *>(k)); });
    unsigned char *der = nullptr;
    int der_length = i2d_PUBKEY(key, &der);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<size_t>(der_length), digest);
    OPENSSL_free(der);
    unsigned char encoded[64];
    int n = EVP_EncodeBlock(encoded, digest, sizeof(digest));
    fingerprint_.assign(reinterpret_cast<char *>(encoded), static_cast<size_t>(n));

    server_ = std::make_unique<httplib::Server>();
    server_->new_task_queue = [] { return new httplib::ThreadPool(24); };
    server_->set_payload_max_length(64u << 20);
    Routes();
    // bind_to_any_port also listens: connections queue from here on, so Url() is usable
    // as soon as the constructor returns.
    port_ = options_.port == 0
                ? server_->bind_to_any_port("127.0.0.1")
                : (server_->bind_to_port("127.0.0.1", options_.port) ? options_.port : -1);
    if (port_ <= 0) {
        throw std::runtime_error("snowpipe double: cannot listen on 127.0.0.1");
    }
    thread_ = std::thread([this] {
        server_->listen_after_bind();
        listen_returned_ = true;
    });
    // stop() is a no-op until the accept loop runs, so a double destroyed right away would
    // wait forever for the thread: wait for the loop (or its failure) first.
    while (!server_->is_running() && !listen_returned_) {
        std::this_thread::yield();
    }
}

SnowpipeDouble::~SnowpipeDouble() {
    server_->stop();
    thread_.join();
}

void SnowpipeDouble::Routes() {
    const std::string pipe = R"(/databases/([^/]+)/schemas/([^/]+)/pipes/([^/:]+))";
    auto bind =
        [this](void (SnowpipeDouble::*handler)(const httplib::Request &, httplib::Response &)) {
            return [this, handler](const httplib::Request &req, httplib::Response &res) {
                if (CheckAccept(req, res)) {
                    (this->*handler)(req, res);
                }
            };
        };
    server_->Get("/v2/streaming/hostname", bind(&SnowpipeDouble::HandleHostname));
    server_->Post("/oauth/token", bind(&SnowpipeDouble::HandleToken));
    server_->Put("/v2/streaming" + pipe + "/channels/([^/]+)", bind(&SnowpipeDouble::HandleOpen));
    server_->Delete("/v2/streaming" + pipe + "/channels/([^/]+)",
                    bind(&SnowpipeDouble::HandleDrop));
    server_->Post("/v2/streaming/data" + pipe + "/channels/([^/]+)/rows",
                  bind(&SnowpipeDouble::HandleAppend));
    server_->Post("/v2/streaming" + pipe + ":bulk-channel-status",
                  bind(&SnowpipeDouble::HandleStatus));
    server_->Get("/_double/committed", [this](const httplib::Request &, httplib::Response &res) {
        res.set_content(CommittedNdjson(), "application/x-ndjson");
    });
    server_->Post(
        "/_double/([a-z-]+)",
        [this](const httplib::Request &req, httplib::Response &res) { HandleControl(req, res); });
}

void SnowpipeDouble::Error(httplib::Response &res, int status, const std::string &code,
                           const std::string &message) const {
    res.status = status;
    switch (options_.error_form) {
        case ErrorBodyForm::kCodeMessage:
            res.set_content(json{{"code", code}, {"message", message}}.dump(), "application/json");
            break;
        case ErrorBodyForm::kErrorCode:
            res.set_content(json{{"error_code", code}, {"message", message}}.dump(),
                            "application/json");
            break;
        case ErrorBodyForm::kBareString:
            res.set_content(json(code).dump(), "application/json");
            break;
    }
}

bool SnowpipeDouble::CheckAccept(const httplib::Request &req, httplib::Response &res) {
    if (req.get_header_value("Accept").find("application/json") == std::string::npos) {
        Error(res, 400, "391902", "the Accept header must include application/json");
        return false;
    }
    return true;
}

bool SnowpipeDouble::CheckJwt(const httplib::Request &req, httplib::Response &res) {
    auto refuse = [&](const std::string &why) {
        std::lock_guard<std::mutex> lock(mutex_);
        ++stats_.unauthorized;
        Error(res, 401, "390144", "JWT token is invalid: " + why);
        return false;
    };
    if (req.get_header_value("X-Snowflake-Authorization-Token-Type") != "KEYPAIR_JWT") {
        return refuse("X-Snowflake-Authorization-Token-Type must be KEYPAIR_JWT");
    }
    std::string token = BearerToken(req);
    size_t first = token.find('.');
    size_t second = first == std::string::npos ? first : token.find('.', first + 1);
    if (second == std::string::npos) {
        return refuse("not three dot-separated parts");
    }
    auto header = DecodeBase64Url(token.substr(0, first));
    auto payload = DecodeBase64Url(token.substr(first + 1, second - first - 1));
    auto signature = DecodeBase64Url(token.substr(second + 1));
    if (!header || !payload || !signature) {
        return refuse("bad base64url");
    }
    json head = json::parse(*header, nullptr, false);
    json claims = json::parse(*payload, nullptr, false);
    if (!head.is_object() || head.value("alg", "") != "RS256" || !claims.is_object()) {
        return refuse("alg must be RS256");
    }
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::string signed_part = token.substr(0, second);
    bool verified =
        EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                             static_cast<EVP_PKEY *>(public_key_.get())) == 1 &&
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char *>(signature->data()),
                         signature->size(),
                         reinterpret_cast<const unsigned char *>(signed_part.data()),
                         signed_part.size()) == 1;
    if (!verified) {
        return refuse("signature does not verify with the registered public key");
    }
    std::string subject = options_.account + "." + options_.user;
    if (claims.value("sub", "") != subject) {
        return refuse("sub must be " + subject);
    }
    if (claims.value("iss", "") != subject + ".SHA256:" + fingerprint_) {
        return refuse("iss must be " + subject + ".SHA256:" + fingerprint_);
    }
    int64_t iat = claims.value("iat", int64_t{0});
    int64_t exp = claims.value("exp", int64_t{0});
    int64_t now = NowSeconds();
    if (exp > iat + 3600 || exp <= now || iat > now + 60) {
        return refuse("exp must lie after now and at most 3600 s after iat");
    }
    return true;
}

bool SnowpipeDouble::CheckScopedToken(const httplib::Request &req, httplib::Response &res) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (valid_tokens_.count(BearerToken(req)) == 0) {
        ++stats_.unauthorized;
        Error(res, 401, "390303", "Invalid OAuth access token");
        return false;
    }
    return true;
}

bool SnowpipeDouble::CheckPipe(const httplib::Request &req, httplib::Response &res) {
    if (req.matches[1] != options_.database || req.matches[2] != options_.schema ||
        req.matches[3] != options_.pipe) {
        Error(res, 404, "ERR_PIPE_DOES_NOT_EXIST_OR_NOT_AUTHORIZED",
              "Pipe does not exist or not authorized");
        return false;
    }
    return true;
}

bool SnowpipeDouble::TakeFault(DoubleFault fault) {
    auto it = faults_.find(fault);
    if (it == faults_.end() || it->second == 0) {
        return false;
    }
    --it->second;
    ++stats_.faults_fired;
    return true;
}

void SnowpipeDouble::HandleHostname(const httplib::Request &req, httplib::Response &res) {
    if (!CheckJwt(req, res)) {
        return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (options_.observed_forms) {
        res.set_content(Url(), "text/plain");
    } else {
        res.set_content(json{{"hostname", Url()}}.dump(), "application/json");
    }
}

void SnowpipeDouble::HandleToken(const httplib::Request &req, httplib::Response &res) {
    if (!CheckJwt(req, res)) {
        return;
    }
    if (req.get_param_value("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" ||
        req.get_param_value("scope").rfind("127.0.0.1:" + std::to_string(port_), 0) != 0) {
        Error(res, 400, "invalid_request", "grant_type must be jwt-bearer, scope the ingest host");
        return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    json claims = {{"exp", NowSeconds() + options_.scoped_token_lifetime}, {"n", ++token_counter_}};
    std::string token =
        EncodeBase64Url(R"({"alg":"none"})") + "." + EncodeBase64Url(claims.dump()) + ".double";
    valid_tokens_.insert(token);
    ++stats_.exchanges;
    if (options_.observed_forms) {
        res.set_content(token, "text/plain");
    } else {
        res.set_content(json{{"token", token}}.dump(), "application/json");
    }
}

std::string SnowpipeDouble::StatusJson(const Channel &channel) const {
    json status = {
        {"channel_status_code", channel.status_code},
        {"last_committed_offset_token",
         channel.committed_token ? json(*channel.committed_token) : json(nullptr)},
        {"rows_inserted", channel.rows_inserted},
        {"rows_parsed", channel.rows_parsed},
        {options_.observed_forms ? "rows_errors" : "rows_error_count", channel.rows_error_count},
        {"last_error_message", channel.last_error_message},
        {"last_error_offset_upper_bound", channel.last_error_offset_upper_bound
                                              ? json(*channel.last_error_offset_upper_bound)
                                              : json(nullptr)},
        {"snowflake_avg_processing_latency_ms", 0}};
    return status.dump();
}

void SnowpipeDouble::HandleOpen(const httplib::Request &req, httplib::Response &res) {
    if (!CheckScopedToken(req, res) || !CheckPipe(req, res)) {
        return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (TakeFault(DoubleFault::kOpenInProgress)) {
        Error(res, 409, "ERR_OPEN_CHANNEL_IN_PROGRESS", "Open channel request is in progress");
        return;
    }
    Promote();
    Channel &channel = channels_[req.matches[4]];
    // Re-opening bumps the client sequencer and discards what was not committed.
    ++channel.client_sequencer;
    channel.pending.clear();
    channel.status_code = StatusCodeOk();
    ++stats_.opens;
    std::string token =
        std::to_string(channel.client_sequencer) + "_" + std::to_string(channel.row_sequencer);
    res.set_content(R"({"next_continuation_token":")" + token + R"(","channel_status":)" +
                        StatusJson(channel) + "}",
                    "application/json");
    changed_.notify_all();
}

void SnowpipeDouble::HandleAppend(const httplib::Request &req, httplib::Response &res) {
    if (!CheckScopedToken(req, res) || !CheckPipe(req, res)) {
        return;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    Promote();
    auto found = channels_.find(req.matches[4]);
    if (found == channels_.end()) {
        Error(res, 404, "ERR_CHANNEL_DOES_NOT_EXIST_OR_IS_NOT_AUTHORIZED",
              "Channel does not exist");
        return;
    }
    Channel &channel = found->second;
    if (!append_request_ids_.insert(req.get_param_value("requestId")).second) {
        ++stats_.repeated_request_ids;
    }
    if (TakeFault(DoubleFault::kThrottle)) {
        Error(res, 429, "ERR_TOO_MANY_REQUESTS", "Too many requests");
        return;
    }
    if (TakeFault(DoubleFault::kUnavailable)) {
        res.status = 503;
        res.set_content(R"("ERR_GENERAL_EXCEPTION_RETRY_REQUEST")", "application/json");
        return;
    }
    bool drop = TakeFault(DoubleFault::kDropConnection);
    bool lose = !drop && TakeFault(DoubleFault::kLoseResponse);
    auto cut = [&res] {
        // A declared body that never comes: the client sees the connection end mid-answer.
        res.set_content_provider(64, "application/json",
                                 [](size_t, size_t, httplib::DataSink &) { return false; });
    };
    if (drop) {
        cut();
        return;
    }
    if (channel.status_code != StatusCodeOk()) {
        Error(res, 400, "ERR_CHANNEL_MUST_BE_REOPENED", "Channel is invalid, re-open it");
        return;
    }
    std::string continuation = req.get_param_value("continuationToken");
    std::string expected_client = std::to_string(channel.client_sequencer) + "_";
    if (TakeFault(DoubleFault::kStaleSequencer) || continuation.rfind(expected_client, 0) != 0) {
        ++stats_.stale_rejections;
        Error(res, 400, "STALE_CONTINUATION_TOKEN_SEQUENCER", "Continuation token is stale");
        return;
    }
    std::string end_token = req.has_param("endOffsetToken") ? req.get_param_value("endOffsetToken")
                                                            : req.get_param_value("offsetToken");
    std::optional<std::string> body = Decompress(req);
    if (end_token.empty() || !body) {
        Error(res, 400, "ERR_INVALID_REQUEST",
              "need endOffsetToken (or offsetToken) and a readable body");
        return;
    }
    Pending pending;
    pending.end_token = end_token;
    pending.commit_at = SteadyClock::now() + options_.commit_delay;
    int64_t errors = 0;
    for (std::string &row : SplitRows(*body)) {
        bool rejected =
            !IsJsonObject(row) || (!options_.reject_rows_containing.empty() &&
                                   row.find(options_.reject_rows_containing) != std::string::npos);
        if (rejected) {
            ++errors;
        } else {
            pending.rows.push_back(std::move(row));
        }
    }
    // Row errors are counted when the append arrives; the rows themselves never commit.
    channel.rows_parsed += static_cast<int64_t>(pending.rows.size()) + errors;
    if (errors > 0) {
        channel.rows_error_count += errors;
        channel.last_error_message = "row could not be parsed or was rejected";
        channel.last_error_offset_upper_bound = end_token;
        stats_.row_errors += static_cast<uint64_t>(errors);
    }
    channel.row_sequencer += pending.rows.size() + static_cast<uint64_t>(errors);
    stats_.rows_appended += pending.rows.size();
    ++stats_.appends;
    channel.pending.push_back(std::move(pending));
    Promote();
    changed_.notify_all();
    if (lose) {
        cut();
        return;
    }
    json answer = {{"next_continuation_token", std::to_string(channel.client_sequencer) + "_" +
                                                   std::to_string(channel.row_sequencer)}};
    if (options_.observed_forms) {
        answer["status_code"] = 0;
        answer["message"] = "Success";
    }
    res.set_header("x-snowflake-session", "double-session-" + std::string(req.matches[4]));
    res.set_content(answer.dump(), "application/json");
}

void SnowpipeDouble::HandleStatus(const httplib::Request &req, httplib::Response &res) {
    if (!CheckScopedToken(req, res) || !CheckPipe(req, res)) {
        return;
    }
    json request = json::parse(req.body, nullptr, false);
    if (!request.is_object() || !request.contains("channel_names") ||
        !request["channel_names"].is_array()) {
        Error(res, 400, "ERR_INVALID_REQUEST", "body must be {\"channel_names\": [...]}");
        return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (TakeFault(DoubleFault::kStatusUnavailable)) {
        res.status = 503;
        res.set_content(R"("ERR_GENERAL_EXCEPTION_RETRY_REQUEST")", "application/json");
        return;
    }
    Promote();
    std::string body = R"({"channel_statuses":{)";
    bool first = true;
    for (const json &name : request["channel_names"]) {
        auto it = name.is_string() ? channels_.find(name.get<std::string>()) : channels_.end();
        if (it == channels_.end()) {
            continue;
        }
        body += (first ? "" : ",") + json(it->first).dump() + ":" + StatusJson(it->second);
        first = false;
    }
    res.set_content(body + "}}", "application/json");
}

void SnowpipeDouble::HandleDrop(const httplib::Request &req, httplib::Response &res) {
    if (!CheckScopedToken(req, res) || !CheckPipe(req, res)) {
        return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    channels_.erase(req.matches[4]);
    res.set_content("{}", "application/json");
    changed_.notify_all();
}

// Fault injection for the standalone executable: POST /_double/fault?kind=...&times=N,
// /_double/expire-tokens, /_double/invalidate?channel=NAME.
void SnowpipeDouble::HandleControl(const httplib::Request &req, httplib::Response &res) {
    static const std::map<std::string, DoubleFault> kinds = {
        {"throttle", DoubleFault::kThrottle},
        {"unavailable", DoubleFault::kUnavailable},
        {"drop-connection", DoubleFault::kDropConnection},
        {"lose-response", DoubleFault::kLoseResponse},
        {"open-in-progress", DoubleFault::kOpenInProgress},
        {"status-unavailable", DoubleFault::kStatusUnavailable},
        {"stale-sequencer", DoubleFault::kStaleSequencer}};
    std::string action = req.matches[1];
    if (action == "fault" && kinds.count(req.get_param_value("kind")) > 0) {
        int times = req.has_param("times") ? std::stoi(req.get_param_value("times")) : 1;
        Inject(kinds.at(req.get_param_value("kind")), times);
    } else if (action == "expire-tokens") {
        ExpireTokens();
    } else if (action == "invalidate" && req.has_param("channel")) {
        InvalidateChannel(req.get_param_value("channel"));
    } else {
        res.status = 400;
        res.set_content(
            "unknown control request: POST /_double/fault?kind=throttle|unavailable|"
            "drop-connection|lose-response|open-in-progress|status-unavailable|"
            "stale-sequencer[&times=N], /_double/expire-tokens, "
            "/_double/invalidate?channel=NAME\n",
            "text/plain");
        return;
    }
    res.set_content("ok\n", "text/plain");
}

void SnowpipeDouble::Promote() {
    if (hold_commits_) {
        return;
    }
    SteadyClock::time_point now = SteadyClock::now();
    for (auto &[name, channel] : channels_) {
        while (!channel.pending.empty() && channel.pending.front().commit_at <= now) {
            Pending &done = channel.pending.front();
            for (std::string &row : done.rows) {
                committed_.push_back(CommittedRow{name, done.end_token, std::move(row)});
            }
            channel.rows_inserted += static_cast<int64_t>(done.rows.size());
            channel.committed_token = done.end_token;
            channel.pending.pop_front();
        }
    }
}

void SnowpipeDouble::Inject(DoubleFault fault, int times) {
    std::lock_guard<std::mutex> lock(mutex_);
    faults_[fault] += times;
}

void SnowpipeDouble::ExpireTokens() {
    std::lock_guard<std::mutex> lock(mutex_);
    valid_tokens_.clear();
}

void SnowpipeDouble::InvalidateChannel(const std::string &channel) {
    std::lock_guard<std::mutex> lock(mutex_);
    Promote();
    auto it = channels_.find(channel);
    if (it != channels_.end()) {
        it->second.status_code = "ERR_CHANNEL_MUST_BE_REOPENED";
        it->second.pending.clear();
    }
    changed_.notify_all();
}

void SnowpipeDouble::SetObservedForms(bool observed) {
    std::lock_guard<std::mutex> lock(mutex_);
    options_.observed_forms = observed;
    for (auto &[name, channel] : channels_) {
        if (channel.status_code == "SUCCESS" || channel.status_code == "ACTIVE") {
            channel.status_code = StatusCodeOk();
        }
    }
}

void SnowpipeDouble::SetErrorBodyForm(ErrorBodyForm form) {
    std::lock_guard<std::mutex> lock(mutex_);
    options_.error_form = form;
}

void SnowpipeDouble::SetCommitDelay(std::chrono::milliseconds delay) {
    std::lock_guard<std::mutex> lock(mutex_);
    options_.commit_delay = delay;
}

void SnowpipeDouble::HoldCommits(bool hold) {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_commits_ = hold;
    changed_.notify_all();
}

void SnowpipeDouble::SetScopedTokenLifetime(int64_t seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    options_.scoped_token_lifetime = seconds;
}

void SnowpipeDouble::SetRejectRowsContaining(const std::string &marker) {
    std::lock_guard<std::mutex> lock(mutex_);
    options_.reject_rows_containing = marker;
}

std::vector<CommittedRow> SnowpipeDouble::Committed() {
    std::lock_guard<std::mutex> lock(mutex_);
    Promote();
    return committed_;
}

size_t SnowpipeDouble::CommittedCount() {
    std::lock_guard<std::mutex> lock(mutex_);
    Promote();
    return committed_.size();
}

std::string SnowpipeDouble::CommittedNdjson() {
    std::string out;
    for (const CommittedRow &row : Committed()) {
        out += json{{"channel", row.channel}, {"offset_token", row.offset_token}}.dump();
        out.pop_back();
        out += R"(,"row":)" + row.row + "}\n";
    }
    return out;
}

std::optional<std::string> SnowpipeDouble::CommittedToken(const std::string &channel) {
    std::lock_guard<std::mutex> lock(mutex_);
    Promote();
    auto it = channels_.find(channel);
    return it == channels_.end() ? std::nullopt : it->second.committed_token;
}

std::vector<std::string> SnowpipeDouble::Channels() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> names;
    for (const auto &[name, channel] : channels_) {
        names.push_back(name);
    }
    return names;
}

DoubleStats SnowpipeDouble::Stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
}

bool SnowpipeDouble::WaitUntil(const std::function<bool()> &ready,
                               std::chrono::milliseconds limit) {
    SteadyClock::time_point give_up = SteadyClock::now() + limit;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        Promote();
        lock.unlock();
        if (ready()) {
            return true;
        }
        lock.lock();
        if (SteadyClock::now() >= give_up) {
            return false;
        }
        // Commits come due with time, not with a request: look again at the next due one.
        SteadyClock::time_point wake = give_up;
        for (const auto &[name, channel] : channels_) {
            if (!hold_commits_ && !channel.pending.empty()) {
                wake = std::min(wake, channel.pending.front().commit_at);
            }
        }
        changed_.wait_until(lock,
                            std::min(wake, SteadyClock::now() + std::chrono::milliseconds(50)));
    }
}

}  // namespace snowcdc::testing
