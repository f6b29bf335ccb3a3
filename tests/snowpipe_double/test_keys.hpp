// RSA key pairs for tests, generated at test time with OpenSSL: 2048-bit, PKCS#8 PEM, the
// private key optionally encrypted (AES-256-CBC) with a passphrase.
#pragma once

#include <string>

namespace snowcdc::testing {

struct TestKeyPair {
    std::string private_pem;  // -----BEGIN PRIVATE KEY----- or ENCRYPTED PRIVATE KEY
    std::string public_pem;   // -----BEGIN PUBLIC KEY----- (SPKI)
};

TestKeyPair GenerateTestKeyPair(const std::string &passphrase = "");
// Writes `content` to a fresh file under the system temp directory; returns its path.
std::string WriteTempFile(const std::string &name, const std::string &content);

}  // namespace snowcdc::testing
