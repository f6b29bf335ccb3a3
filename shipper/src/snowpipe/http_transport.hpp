// HTTP over libcurl for the Snowpipe client: one blocking request at a time on one reused
// connection. libcurl codes are mapped once onto TransportStatus so that the retry
// decision (snowpipe_client) sees values, never exceptions.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <curl/curl.h>

namespace snowcdc::snowpipe {

struct CurlEasyCleanup {
    void operator()(CURL *handle) const { curl_easy_cleanup(handle); }
};
// The one owner of a CURL easy handle: copy deleted, move noexcept (unique_ptr).
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyCleanup>;

// The one owner of a curl_slist header list.
class CurlHeaderList {
  public:
    CurlHeaderList() = default;
    ~CurlHeaderList() { curl_slist_free_all(list_); }
    CurlHeaderList(const CurlHeaderList &) = delete;
    CurlHeaderList &operator=(const CurlHeaderList &) = delete;
    CurlHeaderList(CurlHeaderList &&other) noexcept : list_(other.list_) { other.list_ = nullptr; }
    CurlHeaderList &operator=(CurlHeaderList &&other) noexcept;

    void Append(const std::string &header);
    curl_slist *Get() const { return list_; }

  private:
    curl_slist *list_ = nullptr;
};

enum class TransportStatus {
    kOk,              // an HTTP answer arrived (any status)
    kConnectFailed,   // nothing was sent: DNS, refused, TLS handshake
    kConnectionLost,  // sent, then the answer was cut or never came: outcome unknown
    kTimeout,         // no complete answer in time: outcome unknown
    kLocalError,      // bad URL, out of memory, ...: a bug or a setting, not the network
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;
    const std::string *body_ref = nullptr;  // sent instead of `body` when set (not copied)
    std::chrono::milliseconds timeout{30000};

    const std::string &Body() const { return body_ref != nullptr ? *body_ref : body; }
};

struct HttpResponse {
    TransportStatus transport = TransportStatus::kLocalError;
    std::string transport_error;  // libcurl's message when transport != kOk
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // names lower-cased

    std::string Header(const std::string &lower_name) const;
};

TransportStatus MapCurlCode(CURLcode code);

class HttpClient {
  public:
    HttpClient();
    HttpResponse Perform(const HttpRequest &request);

  private:
    CurlEasyPtr handle_;
};

}  // namespace snowcdc::snowpipe
