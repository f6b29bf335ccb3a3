// Credentials for the ingest host: mints (and re-mints) the key-pair JWT, discovers the
// ingest host once, and exchanges the JWT for a scoped token that is refreshed 60 s before
// its `exp` (10 min assumed without one) or at once after a 401. Shared by every channel.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "snowpipe/http_transport.hpp"
#include "snowpipe/key_pair.hpp"
#include "snowpipe/protocol.hpp"

namespace snowcdc::snowpipe {

struct AuthConfig {
    std::string account;      // as configured, e.g. myorg-acct1 or xy12345.us-east-2.aws
    std::string user;         // login name
    std::string role;         // "" = the user's default role
    std::string account_url;  // "" = AccountUrl(account); a test double gives http://127.0.0.1:PORT
    std::string user_agent;
    std::chrono::milliseconds timeout{30000};
};

// Seconds since 1970-01-01 UTC; injectable so that tests can move time.
using WallClock = std::function<int64_t()>;

// A value or the reason there is none.
struct Grant {
    Outcome outcome = Outcome::kSuccess;
    std::string value;
    std::string error;  // set when outcome != kSuccess; names the object and the fix
};

class TokenSource {
  public:
    static constexpr int64_t kJwtLifetime = 59 * 60;
    static constexpr int64_t kJwtRenewAge = 54 * 60;
    static constexpr int64_t kScopedRefreshMargin = 60;
    static constexpr int64_t kScopedAssumedLifetime = 10 * 60;

    TokenSource(AuthConfig config, EvpPkeyPtr key, WallClock clock = nullptr);

    const std::string &Fingerprint() const { return fingerprint_; }
    const AuthConfig &Config() const { return config_; }
    std::string AccountBaseUrl() const;
    std::string Jwt();
    Grant IngestUrl(HttpClient &http);
    Grant ScopedToken(HttpClient &http);
    // Called after a 401 with `token`: the next ScopedToken() exchanges again (once for
    // all the channels that saw the same stale token).
    void Invalidate(const std::string &token);
    uint64_t Exchanges() const;

  private:
    Grant AccountHostRequest(HttpClient &http, HttpRequest request, const char *what);
    std::string JwtLocked();

    AuthConfig config_;
    EvpPkeyPtr key_;
    WallClock clock_;
    std::string fingerprint_;
    mutable std::mutex mutex_;
    std::string jwt_;
    int64_t jwt_issued_at_ = 0;
    std::string ingest_url_;
    std::string scoped_token_;
    int64_t scoped_refresh_at_ = 0;
    uint64_t exchanges_ = 0;
};

}  // namespace snowcdc::snowpipe
