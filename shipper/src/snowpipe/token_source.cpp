// Credentials for the ingest host: JWT minting, host discovery, scoped-token exchange.
#include "snowpipe/token_source.hpp"

namespace snowcdc::snowpipe {
namespace {

int64_t SystemSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string Describe(const HttpResponse &response) {
    if (response.transport != TransportStatus::kOk) {
        return response.transport_error;
    }
    ApiError error = ParseErrorBody(response.body);
    std::string text = "HTTP " + std::to_string(response.status);
    if (!error.code.empty()) {
        text += " " + error.code;
    }
    if (!error.message.empty()) {
        text += ": " + error.message;
    }
    return text;
}

}  // namespace

TokenSource::TokenSource(AuthConfig config, EvpPkeyPtr key, WallClock clock)
    : config_(std::move(config)), key_(std::move(key)), clock_(std::move(clock)) {
    if (!clock_) {
        clock_ = SystemSeconds;
    }
    fingerprint_ = PublicKeyFingerprint(key_.get());
}

std::string TokenSource::AccountBaseUrl() const {
    return config_.account_url.empty() ? AccountUrl(config_.account) : config_.account_url;
}

std::string TokenSource::Jwt() {
    std::lock_guard<std::mutex> lock(mutex_);
    return JwtLocked();
}

std::string TokenSource::JwtLocked() {
    int64_t now = clock_();
    if (jwt_.empty() || now - jwt_issued_at_ >= kJwtRenewAge || now < jwt_issued_at_) {
        JwtClaims claims =
            KeyPairClaims(config_.account, config_.user, fingerprint_, now, kJwtLifetime);
        jwt_ = SignJwt(key_.get(), claims);
        jwt_issued_at_ = now;
    }
    return jwt_;
}

Grant TokenSource::AccountHostRequest(HttpClient &http, HttpRequest request, const char *what) {
    request.headers.push_back("Authorization: Bearer " + JwtLocked());
    request.headers.push_back("X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT");
    request.headers.push_back("Accept: application/json");
    request.headers.push_back("User-Agent: " + config_.user_agent);
    request.timeout = config_.timeout;
    HttpResponse response = http.Perform(request);
    Grant grant;
    grant.outcome = Classify(response, ParseErrorBody(response.body));
    if (grant.outcome == Outcome::kSuccess) {
        grant.value = response.body;
        return grant;
    }
    if (grant.outcome == Outcome::kRefreshToken || response.status == 403) {
        // The account host refused the JWT itself: wrong key, fingerprint, user or account.
        grant.outcome = Outcome::kFatal;
        grant.error = std::string(what) + " at " + AccountBaseUrl() +
                      " refused the key-pair JWT (" + Describe(response) + "): check that user " +
                      config_.user + " has RSA_PUBLIC_KEY_FP = SHA256:" + fingerprint_ +
                      " (DESC USER), and SNOWFLAKE_ACCOUNT / SNOWFLAKE_USER";
        return grant;
    }
    if (grant.outcome == Outcome::kUnknownOutcome || grant.outcome == Outcome::kReopen) {
        grant.outcome = Outcome::kRetry;  // both calls are safe to repeat
    }
    grant.error = std::string(what) + " at " + AccountBaseUrl() + " failed: " + Describe(response);
    if (grant.outcome == Outcome::kFatal) {
        grant.error += ": check SNOWFLAKE_ACCOUNT" +
                       std::string(config_.role.empty() ? "" : " and SNOWFLAKE_ROLE");
    }
    return grant;
}

Grant TokenSource::IngestUrl(HttpClient &http) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!ingest_url_.empty()) {
        return Grant{Outcome::kSuccess, ingest_url_, ""};
    }
    HttpRequest request;
    request.method = "GET";
    request.url = AccountBaseUrl() + "/v2/streaming/hostname";
    Grant grant = AccountHostRequest(http, request, "ingest host discovery");
    if (grant.outcome != Outcome::kSuccess) {
        return grant;
    }
    std::optional<std::string> url = ParseHostnameAnswer(grant.value);
    if (!url) {
        return Grant{Outcome::kRetry, "", "ingest host discovery answered no host name"};
    }
    ingest_url_ = *url;
    return Grant{Outcome::kSuccess, ingest_url_, ""};
}

Grant TokenSource::ScopedToken(HttpClient &http) {
    std::lock_guard<std::mutex> lock(mutex_);
    int64_t now = clock_();
    if (!scoped_token_.empty() && now < scoped_refresh_at_) {
        return Grant{Outcome::kSuccess, scoped_token_, ""};
    }
    if (ingest_url_.empty()) {
        return Grant{Outcome::kRetry, "", "the ingest host is not known yet"};
    }
    std::string host = ingest_url_.substr(ingest_url_.find("://") + 3);
    std::string scope = host;
    if (!config_.role.empty()) {
        scope += " session:role:" + config_.role;
    }
    HttpRequest request;
    request.method = "POST";
    request.url = AccountBaseUrl() + "/oauth/token";
    request.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    request.body = "grant_type=" + PercentEncode("urn:ietf:params:oauth:grant-type:jwt-bearer") +
                   "&scope=" + PercentEncode(scope);
    Grant grant = AccountHostRequest(http, request, "scoped token exchange");
    if (grant.outcome != Outcome::kSuccess) {
        return grant;
    }
    std::optional<std::string> token = ParseTokenAnswer(grant.value);
    if (!token) {
        return Grant{Outcome::kRetry, "", "scoped token exchange answered no token"};
    }
    std::optional<int64_t> exp = JwtExpiry(*token);
    scoped_token_ = *token;
    scoped_refresh_at_ =
        exp ? *exp - kScopedRefreshMargin : now + kScopedAssumedLifetime - kScopedRefreshMargin;
    ++exchanges_;
    return Grant{Outcome::kSuccess, scoped_token_, ""};
}

void TokenSource::Invalidate(const std::string &token) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (token == scoped_token_) {
        scoped_token_.clear();
    }
}

uint64_t TokenSource::Exchanges() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return exchanges_;
}

}  // namespace snowcdc::snowpipe
