// A test double of the Snowpipe Streaming REST service: a real HTTP server on 127.0.0.1 that
// keeps the spec's state model (client and row sequencers, pending appends that commit after
// a delay, committed offset tokens, error counters), verifies key-pair JWTs against the
// registered public key, injects faults, and records what it committed for comparison.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace snowcdc::testing {

enum class DoubleFault {
    kThrottle,           // next append answers 429
    kUnavailable,        // next append answers 503 with a bare JSON string body
    kDropConnection,     // next append: connection closed before the rows are taken
    kLoseResponse,       // next append: rows taken, then the connection closes unanswered
    kOpenInProgress,     // next open answers 409 ERR_OPEN_CHANNEL_IN_PROGRESS
    kStatusUnavailable,  // next bulk status answers 503
    kStaleSequencer,     // next append answers 400 STALE_CONTINUATION_TOKEN_SEQUENCER
};

enum class ErrorBodyForm { kCodeMessage, kErrorCode, kBareString };

struct DoubleOptions {
    std::string account = "TESTACCT";  // as in JWT claims (upper case)
    std::string user = "SHIPPER";
    std::string public_key_pem;  // the registered key; JWTs are checked against it
    std::string database = "CDC_DB";
    std::string schema = "PUBLIC";
    std::string pipe = "CDC_PIPE";
    std::chrono::milliseconds commit_delay{0};
    bool observed_forms =
        true;  // bare-text hostname/token, SUCCESS; false: documented JSON, ACTIVE
    ErrorBodyForm error_form = ErrorBodyForm::kCodeMessage;
    int64_t scoped_token_lifetime = 3600;  // seconds, in the token's exp claim
    std::string reject_rows_containing;    // rows containing this text count as row errors
    int port = 0;                          // 0 = any free port
};

struct CommittedRow {
    std::string channel;
    std::string offset_token;  // the end offset token of the append that carried the row
    std::string row;
};

struct DoubleStats {
    uint64_t opens = 0;
    uint64_t appends = 0;
    uint64_t rows_appended = 0;
    uint64_t exchanges = 0;
    uint64_t unauthorized = 0;
    uint64_t faults_fired = 0;
    uint64_t stale_rejections = 0;
    uint64_t row_errors = 0;
    uint64_t repeated_request_ids = 0;  // appends whose requestId was seen before (retries)
};

class SnowpipeDouble {
  public:
    explicit SnowpipeDouble(DoubleOptions options);
    ~SnowpipeDouble();
    SnowpipeDouble(const SnowpipeDouble &) = delete;
    SnowpipeDouble &operator=(const SnowpipeDouble &) = delete;

    int Port() const { return port_; }
    std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

    void Inject(DoubleFault fault, int times = 1);
    // Every scoped token issued so far stops working (401 on the ingest host).
    void ExpireTokens();
    // The channel's status turns invalid and its uncommitted rows are dropped.
    void InvalidateChannel(const std::string &channel);
    void SetObservedForms(bool observed);
    void SetErrorBodyForm(ErrorBodyForm form);
    void SetCommitDelay(std::chrono::milliseconds delay);
    void SetScopedTokenLifetime(int64_t seconds);
    // While held, appended rows stay pending (not committed) whatever the commit delay.
    void HoldCommits(bool hold);
    void SetRejectRowsContaining(const std::string &marker);

    // Reading what is committed first commits the rows whose delay has passed (as a status
    // call does), so these change the double and are not const.
    std::vector<CommittedRow> Committed();
    size_t CommittedCount();
    std::string CommittedNdjson();
    std::optional<std::string> CommittedToken(const std::string &channel);
    std::vector<std::string> Channels() const;
    DoubleStats Stats() const;
    // Waits until `ready` holds (checked after every state change and as commits come due);
    // false when `limit` passed first. `limit` only bounds a broken test.
    bool WaitUntil(const std::function<bool()> &ready, std::chrono::milliseconds limit);

  private:
    struct Pending {
        std::vector<std::string> rows;
        std::string end_token;
        std::chrono::steady_clock::time_point commit_at;
    };
    struct Channel {
        uint64_t client_sequencer = 0;
        uint64_t row_sequencer = 0;
        std::optional<std::string> committed_token;
        std::deque<Pending> pending;
        std::string status_code;
        int64_t rows_inserted = 0;
        int64_t rows_parsed = 0;
        int64_t rows_error_count = 0;
        std::string last_error_message;
        std::optional<std::string> last_error_offset_upper_bound;
    };

    void Routes();
    bool CheckAccept(const httplib::Request &req, httplib::Response &res);
    bool CheckJwt(const httplib::Request &req, httplib::Response &res);
    bool CheckScopedToken(const httplib::Request &req, httplib::Response &res);
    bool CheckPipe(const httplib::Request &req, httplib::Response &res);
    bool TakeFault(DoubleFault fault);
    void Error(httplib::Response &res, int status, const std::string &code,
               const std::string &message) const;
    void Promote();
    std::string StatusJson(const Channel &channel) const;
    std::string StatusCodeOk() const { return options_.observed_forms ? "SUCCESS" : "ACTIVE"; }
    void HandleHostname(const httplib::Request &req, httplib::Response &res);
    void HandleToken(const httplib::Request &req, httplib::Response &res);
    void HandleOpen(const httplib::Request &req, httplib::Response &res);
    void HandleAppend(const httplib::Request &req, httplib::Response &res);
    void HandleStatus(const httplib::Request &req, httplib::Response &res);
    void HandleDrop(const httplib::Request &req, httplib::Response &res);
    void HandleControl(const httplib::Request &req, httplib::Response &res);

    DoubleOptions options_;
    std::string fingerprint_;
    std::shared_ptr<void> public_key_;  // EVP_PKEY, freed by its deleter
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    std::atomic<bool> listen_returned_{false};
    int port_ = 0;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::string, Channel> channels_;
    std::vector<CommittedRow> committed_;
    std::map<DoubleFault, int> faults_;
    std::set<std::string> valid_tokens_;
    std::set<std::string> append_request_ids_;
    uint64_t token_counter_ = 0;
    bool hold_commits_ = false;
    DoubleStats stats_;
};

}  // namespace snowcdc::testing
