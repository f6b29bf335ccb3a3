// Request-body compression with libzstd and zlib.
#include "snowpipe/compression.hpp"

#include <stdexcept>

#include <zlib.h>
#include <zstd.h>

namespace snowcdc::snowpipe {
namespace {

constexpr int kZstdLevel = 3;

std::string Zstd(std::string_view data, ZSTD_CCtx *context) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    size_t size = context != nullptr
                      ? ZSTD_compressCCtx(context, out.data(), out.size(), data.data(), data.size(),
                                          kZstdLevel)
                      : ZSTD_compress(out.data(), out.size(), data.data(), data.size(), kZstdLevel);
    if (ZSTD_isError(size)) {
        throw std::runtime_error(std::string("zstd compression failed: ") +
                                 ZSTD_getErrorName(size));
    }
    out.resize(size);
    return out;
}

std::string Gzip(std::string_view data) {
    z_stream stream{};
    // 16 + MAX_WBITS asks zlib for the gzip wrapper instead of the zlib one.
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        throw std::runtime_error("gzip compression failed: deflateInit2");
    }
    std::string out(deflateBound(&stream, data.size()) + 32, '\0');
    stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    stream.next_out = reinterpret_cast<Bytef *>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&stream, Z_FINISH);
    size_t size = stream.total_out;
    deflateEnd(&stream);
    if (rc != Z_STREAM_END) {
        throw std::runtime_error("gzip compression failed: deflate");
    }
    out.resize(size);
    return out;
}

}  // namespace

std::optional<Compression> ParseCompression(std::string_view name) {
    if (name == "none" || name.empty()) {
        return Compression::kNone;
    }
    if (name == "zstd") {
        return Compression::kZstd;
    }
    if (name == "gzip") {
        return Compression::kGzip;
    }
    return std::nullopt;
}

const char *ContentEncoding(Compression compression) {
    switch (compression) {
        case Compression::kNone:
            return "";
        case Compression::kZstd:
            return "zstd";
        case Compression::kGzip:
            return "gzip";
    }
    return "";
}

std::string Compress(Compression compression, std::string_view data) {
    switch (compression) {
        case Compression::kNone:
            return std::string(data);
        case Compression::kZstd:
            return Zstd(data, nullptr);
        case Compression::kGzip:
            return Gzip(data);
    }
    return std::string(data);
}

// The one owner of the zstd context.
struct Compressor::ZstdContext {
    ZSTD_CCtx *context = ZSTD_createCCtx();
    ~ZstdContext() { ZSTD_freeCCtx(context); }
};

Compressor::Compressor(Compression compression)
    : compression_(compression),
      zstd_(compression == Compression::kZstd ? std::make_unique<ZstdContext>() : nullptr) {
    if (zstd_ && zstd_->context == nullptr) {
        throw std::runtime_error("zstd compression failed: out of memory for a context");
    }
}

Compressor::~Compressor() = default;

std::string Compressor::Compress(std::string_view data) {
    if (zstd_) {
        return Zstd(data, zstd_->context);
    }
    return snowpipe::Compress(compression_, data);
}

}  // namespace snowcdc::snowpipe
