// HTTP over libcurl: request execution and libcurl error mapping.
#include "snowpipe/http_transport.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>

namespace snowcdc::snowpipe {
namespace {

size_t WriteBody(char *data, size_t size, size_t count, void *user) {
    static_cast<std::string *>(user)->append(data, size * count);
    return size * count;
}

size_t WriteHeader(char *data, size_t size, size_t count, void *user) {
    std::string line(data, size * count);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        size_t start = line.find_first_not_of(" \t", colon + 1);
        size_t end = line.find_last_not_of(" \t\r\n");
        std::string value =
            start == std::string::npos || end < start ? "" : line.substr(start, end - start + 1);
        (*static_cast<std::map<std::string, std::string> *>(user))[name] = value;
    }
    return size * count;
}

}  // namespace

CurlHeaderList &CurlHeaderList::operator=(CurlHeaderList &&other) noexcept {
    if (this != &other) {
        curl_slist_free_all(list_);
        list_ = other.list_;
        other.list_ = nullptr;
    }
    return *this;
}

void CurlHeaderList::Append(const std::string &header) {
    curl_slist *grown = curl_slist_append(list_, header.c_str());
    if (grown == nullptr) {
        throw std::bad_alloc();
    }
    list_ = grown;
}

std::string HttpResponse::Header(const std::string &lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

TransportStatus MapCurlCode(CURLcode code) {
    switch (code) {
        case CURLE_OK:
            return TransportStatus::kOk;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
            return TransportStatus::kConnectFailed;
        case CURLE_OPERATION_TIMEDOUT:
            return TransportStatus::kTimeout;
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return TransportStatus::kConnectionLost;
        default:
            return TransportStatus::kLocalError;
    }
}

HttpClient::HttpClient() {
    static std::once_flag global_init;
    std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    handle_.reset(curl_easy_init());
    if (!handle_) {
        throw std::runtime_error("curl_easy_init failed: out of memory");
    }
}

HttpResponse HttpClient::Perform(const HttpRequest &request) {
    CURL *curl = handle_.get();
    curl_easy_reset(curl);
    HttpResponse response;
    CurlHeaderList headers;
    for (const std::string &header : request.headers) {
        headers.Append(header);
    }
    // libcurl adds "Expect: 100-continue" to large POSTs; the round trip buys nothing here.
    headers.Append("Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.Get());
    if (request.method != "GET") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.Body().data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.Body().size()));
    }
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
    CURLcode code = curl_easy_perform(curl);
    response.transport = MapCurlCode(code);
    if (code != CURLE_OK) {
        response.transport_error = curl_easy_strerror(code);
        return response;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

}  // namespace snowcdc::snowpipe
