// Key-pair authentication: private key loading, fingerprint, RS256 JWT minting.
#include "snowpipe/key_pair.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

namespace snowcdc::snowpipe {
namespace {

struct BioFree {
    void operator()(BIO *bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

struct MdCtxFree {
    void operator()(EVP_MD_CTX *ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string LastOpenSslError() {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) {
        return "no OpenSSL error detail";
    }
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    return text;
}

// OpenSSL asks for the passphrase only when the key is encrypted; an empty one then fails.
int PassphraseCallback(char *buf, int size, int rwflag, void *user_data) {
    const auto *passphrase = static_cast<const std::string *>(user_data);
    if (passphrase->empty() || static_cast<int>(passphrase->size()) > size) {
        return -1;
    }
    std::copy(passphrase->begin(), passphrase->end(), buf);
    return static_cast<int>(passphrase->size());
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

EvpPkeyPtr ParsePrivateKeyPem(std::string_view pem, const std::string &passphrase,
                              const std::string &origin) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    std::string pass = passphrase;
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, PassphraseCallback, &pass));
    if (!key) {
        bool encrypted = pem.find("ENCRYPTED") != std::string_view::npos;
        std::string hint =
            encrypted
                ? (passphrase.empty()
                       ? "the key is encrypted: set SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"
                       : "check SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: it does not decrypt the key")
                : "it must be a PEM PKCS#8 RSA private key (-----BEGIN PRIVATE KEY-----)";
        throw KeyError("cannot read private key " + origin + ": " + hint + " (" +
                       LastOpenSslError() + ")");
    }
    if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
        throw KeyError("private key " + origin +
                       " is not an RSA key: Snowflake key-pair authentication needs RSA "
                       "(openssl genrsa 2048 | openssl pkcs8 -topk8)");
    }
    return key;
}

EvpPkeyPtr LoadPrivateKeyFile(const std::string &path, const std::string &passphrase) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw KeyError("cannot open private key file " + path +
                       ": check SNOWFLAKE_PRIVATE_KEY_FILE and the file's permissions");
    }
    std::stringstream content;
    content << in.rdbuf();
    return ParsePrivateKeyPem(content.str(), passphrase, path);
}

EvpPkeyPtr ParsePublicKeyPem(std::string_view pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!key) {
        throw KeyError("cannot read public key (expects -----BEGIN PUBLIC KEY-----): " +
                       LastOpenSslError());
    }
    return key;
}

std::string PublicKeyFingerprint(EVP_PKEY *key) {
    unsigned char *der = nullptr;
    int length = i2d_PUBKEY(key, &der);
    if (length <= 0) {
        throw KeyError("cannot encode the public key: " + LastOpenSslError());
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<size_t>(length), digest);
    OPENSSL_free(der);
    return Base64Encode(std::string_view(reinterpret_cast<char *>(digest), sizeof(digest)));
}

std::string Base64Encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        uint32_t v =
            (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
        out += kBase64Alphabet[(v >> 18) & 63];
        out += kBase64Alphabet[(v >> 12) & 63];
        out += kBase64Alphabet[(v >> 6) & 63];
        out += kBase64Alphabet[v & 63];
    }
    size_t rest = bytes.size() - i;
    if (rest > 0) {
        uint32_t v = uint8_t(bytes[i]) << 16;
        if (rest == 2) {
            v |= uint8_t(bytes[i + 1]) << 8;
        }
        out += kBase64Alphabet[(v >> 18) & 63];
        out += kBase64Alphabet[(v >> 12) & 63];
        out += rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
    std::string out = Base64Encode(bytes);
    while (!out.empty() && out.back() == '=') {
        out.pop_back();
    }
    std::replace(out.begin(), out.end(), '+', '-');
    std::replace(out.begin(), out.end(), '/', '_');
    return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '-' || c == '+') {
            v = 62;
        } else if (c == '_' || c == '/') {
            v = 63;
        } else if (c == '=') {
            break;
        } else {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

// The spec names two shapes: a locator with region (xy12345.us-east-2.aws, keep the part
// before the first '.') and an org-account name written with a '.' (myorg.acct, which
// becomes MYORG-ACCT). A second segment that looks like a region (has a '-') or a third
// segment marks the locator form.
std::string JwtAccountName(std::string_view account) {
    size_t dot = account.find('.');
    std::string name(account);
    if (dot != std::string_view::npos) {
        std::string_view rest = account.substr(dot + 1);
        bool locator =
            rest.find('.') != std::string_view::npos || rest.find('-') != std::string_view::npos;
        name = locator ? std::string(account.substr(0, dot))
                       : std::string(account.substr(0, dot)) + "-" + std::string(rest);
    }
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return name;
}

JwtClaims KeyPairClaims(std::string_view account, std::string_view user,
                        const std::string &fingerprint, int64_t now_seconds,
                        int64_t lifetime_seconds) {
    std::string upper_user(user);
    std::transform(upper_user.begin(), upper_user.end(), upper_user.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    JwtClaims claims;
    claims.subject = JwtAccountName(account) + "." + upper_user;
    claims.issuer = claims.subject + ".SHA256:" + fingerprint;
    claims.issued_at = now_seconds;
    claims.expires_at = now_seconds + lifetime_seconds;
    return claims;
}

std::string SignJwt(EVP_PKEY *key, const JwtClaims &claims) {
    nlohmann::json payload = {{"iss", claims.issuer},
                              {"sub", claims.subject},
                              {"iat", claims.issued_at},
                              {"exp", claims.expires_at}};
    std::string signing_input =
        Base64UrlEncode(R"({"alg":"RS256","typ":"JWT"})") + "." + Base64UrlEncode(payload.dump());
    MdCtxPtr ctx(EVP_MD_CTX_new());
    size_t length = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &length,
                       reinterpret_cast<const unsigned char *>(signing_input.data()),
                       signing_input.size()) != 1) {
        throw KeyError("cannot sign the JWT: " + LastOpenSslError());
    }
    std::string signature(length, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char *>(signature.data()), &length,
                       reinterpret_cast<const unsigned char *>(signing_input.data()),
                       signing_input.size()) != 1) {
        throw KeyError("cannot sign the JWT: " + LastOpenSslError());
    }
    signature.resize(length);
    return signing_input + "." + Base64UrlEncode(signature);
}

std::optional<int64_t> JwtExpiry(std::string_view token) {
    size_t first = token.find('.');
    size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
    if (second == std::string_view::npos) {
        return std::nullopt;
    }
    std::optional<std::string> payload =
        Base64UrlDecode(token.substr(first + 1, second - first - 1));
    if (!payload) {
        return std::nullopt;
    }
    nlohmann::json claims = nlohmann::json::parse(*payload, nullptr, false);
    if (!claims.is_object() || !claims.contains("exp") || !claims["exp"].is_number_integer()) {
        return std::nullopt;
    }
    return claims["exp"].get<int64_t>();
}

}  // namespace snowcdc::snowpipe
