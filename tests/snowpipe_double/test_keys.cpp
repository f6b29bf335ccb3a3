// RSA key pairs for tests.
#include "test_keys.hpp"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

namespace snowcdc::testing {
namespace {

std::string BioText(BIO *bio) {
    char *data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(size));
}

}  // namespace

TestKeyPair GenerateTestKeyPair(const std::string &passphrase) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), EVP_PKEY_free);
    if (!key) {
        throw std::runtime_error("test keys: RSA key generation failed");
    }
    std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> pub(BIO_new(BIO_s_mem()), BIO_free);
    const EVP_CIPHER *cipher = passphrase.empty() ? nullptr : EVP_aes_256_cbc();
    if (PEM_write_bio_PKCS8PrivateKey(priv.get(), key.get(), cipher,
                                      const_cast<char *>(passphrase.c_str()),
                                      static_cast<int>(passphrase.size()), nullptr, nullptr) != 1 ||
        PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) {
        throw std::runtime_error("test keys: PEM encoding failed");
    }
    return TestKeyPair{BioText(priv.get()), BioText(pub.get())};
}

std::string WriteTempFile(const std::string &name, const std::string &content) {
    const char *tmp = std::getenv("TMPDIR");
    std::string dir_template = std::string(tmp ? tmp : "/tmp") + "/snowcdc-test-XXXXXX";
    if (mkdtemp(dir_template.data()) == nullptr) {
        throw std::runtime_error("test keys: mkdtemp failed");
    }
    std::string path = dir_template + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << content;
    if (!out) {
        throw std::runtime_error("test keys: cannot write " + path);
    }
    return path;
}

}  // namespace snowcdc::testing
