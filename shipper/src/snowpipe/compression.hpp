// Request-body compression for appends: zstd or gzip, chosen by a setting.
#pragma once

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

}  // namespace snowcdc::snowpipe
