// Key-pair authentication for Snowpipe Streaming: loads the user's RSA private key (PEM
// PKCS#8, optionally encrypted), computes the public-key fingerprint Snowflake registers,
// and mints the RS256 JWT that the account host accepts. Pure OpenSSL, no I/O but the key file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace snowcdc::snowpipe {

struct EvpPkeyFree {
    void operator()(EVP_PKEY *key) const { EVP_PKEY_free(key); }
};
// The one owner of an EVP_PKEY: copy deleted, move noexcept (unique_ptr), one cleanup site.
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// Thrown only while loading configuration (start-up): the message names the file and the fix.
class KeyError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Parses a PEM private key; `passphrase` is used when the key is encrypted. `origin` names
// the key in error messages (usually the file path).
EvpPkeyPtr ParsePrivateKeyPem(std::string_view pem, const std::string &passphrase,
                              const std::string &origin);
EvpPkeyPtr LoadPrivateKeyFile(const std::string &path, const std::string &passphrase);
EvpPkeyPtr ParsePublicKeyPem(std::string_view pem);

// Standard base64 (with padding) of SHA-256 over the DER SubjectPublicKeyInfo.
std::string PublicKeyFingerprint(EVP_PKEY *key);

std::string Base64Encode(std::string_view bytes);
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// ACCOUNT as it appears in JWT claims: upper case, locator suffixes after the first '.'
// dropped (xy12345.us-east-2.aws -> XY12345).
std::string JwtAccountName(std::string_view account);

struct JwtClaims {
    std::string issuer;   // ACCOUNT.USER.SHA256:<fingerprint>
    std::string subject;  // ACCOUNT.USER
    int64_t issued_at = 0;
    int64_t expires_at = 0;
};

JwtClaims KeyPairClaims(std::string_view account, std::string_view user,
                        const std::string &fingerprint, int64_t now_seconds,
                        int64_t lifetime_seconds);

// header.payload.signature, RS256, base64url without padding.
std::string SignJwt(EVP_PKEY *key, const JwtClaims &claims);

// The `exp` claim of a JWT-shaped token, if it has one (no signature check: the token
// is opaque to us, the claim only tells when to refresh it).
std::optional<int64_t> JwtExpiry(std::string_view token);

}  // namespace snowcdc::snowpipe
