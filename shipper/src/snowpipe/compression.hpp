// Request-body compression for appends: zstd or gzip, chosen by a setting.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace snowcdc::snowpipe {

enum class Compression { kNone, kZstd, kGzip };

std::optional<Compression> ParseCompression(std::string_view name);
// The Content-Encoding value; "" for kNone.
const char *ContentEncoding(Compression compression);
// Throws std::runtime_error only when the library fails (out of memory).
std::string Compress(Compression compression, std::string_view data);

// Compresses one body after another with one zstd context, so its tables are allocated
// once rather than for every request (one per channel: not thread-safe).
class Compressor {
  public:
    explicit Compressor(Compression compression);
    ~Compressor();
    Compressor(const Compressor &) = delete;
    Compressor &operator=(const Compressor &) = delete;

    std::string Compress(std::string_view data);

  private:
    struct ZstdContext;
    Compression compression_;
    std::unique_ptr<ZstdContext> zstd_;
};

}  // namespace snowcdc::snowpipe
