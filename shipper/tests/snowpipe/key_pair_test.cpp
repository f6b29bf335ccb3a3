// Key-pair authentication: key loading (plain and encrypted), fingerprint, JWT shape.
#include "snowpipe/key_pair.hpp"

#include <cstdio>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "test_keys.hpp"

namespace snowcdc::snowpipe {
namespace {

std::string RunCommand(const std::string &command) {
    std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), pclose);
    std::string out;
    char buffer[256];
    while (pipe && fgets(buffer, sizeof(buffer), pipe.get()) != nullptr) {
        out += buffer;
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
        out.pop_back();
    }
    return out;
}

class KeyPairTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        plain_ = new testing::TestKeyPair(testing::GenerateTestKeyPair());
        encrypted_ = new testing::TestKeyPair(testing::GenerateTestKeyPair("s3cret pass"));
    }
    static void TearDownTestSuite() {
        delete plain_;
        delete encrypted_;
    }
    static testing::TestKeyPair *plain_;
    static testing::TestKeyPair *encrypted_;
};
testing::TestKeyPair *KeyPairTest::plain_ = nullptr;
testing::TestKeyPair *KeyPairTest::encrypted_ = nullptr;

TEST_F(KeyPairTest, FingerprintMatchesOpensslCommandLine) {
    std::string path = testing::WriteTempFile("key.p8", plain_->private_pem);
    EvpPkeyPtr key = LoadPrivateKeyFile(path, "");
    std::string expected = RunCommand("openssl pkey -in " + path +
                                      " -pubout -outform DER 2>/dev/null | openssl dgst -sha256 "
                                      "-binary | openssl base64 -A");
    ASSERT_EQ(expected.size(), 44u) << "openssl CLI output: " << expected;
    EXPECT_EQ(PublicKeyFingerprint(key.get()), expected);
}

TEST_F(KeyPairTest, EncryptedKeyNeedsItsPassphrase) {
    EvpPkeyPtr key = ParsePrivateKeyPem(encrypted_->private_pem, "s3cret pass", "enc.p8");
    ASSERT_TRUE(key);
    EvpPkeyPtr public_key = ParsePublicKeyPem(encrypted_->public_pem);
    EXPECT_EQ(PublicKeyFingerprint(key.get()), PublicKeyFingerprint(public_key.get()));
    try {
        ParsePrivateKeyPem(encrypted_->private_pem, "", "enc.p8");
        FAIL() << "an encrypted key without passphrase must not load";
    } catch (const KeyError &error) {
        EXPECT_NE(std::string(error.what()).find("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"),
                  std::string::npos)
            << error.what();
    }
    EXPECT_THROW(ParsePrivateKeyPem(encrypted_->private_pem, "wrong", "enc.p8"), KeyError);
}

TEST_F(KeyPairTest, MissingFileAndGarbageAreNamed) {
    try {
        LoadPrivateKeyFile("/nonexistent/key.p8", "");
        FAIL();
    } catch (const KeyError &error) {
        EXPECT_NE(std::string(error.what()).find("/nonexistent/key.p8"), std::string::npos);
    }
    EXPECT_THROW(ParsePrivateKeyPem("not a key", "", "x"), KeyError);
}

TEST_F(KeyPairTest, JwtVerifiesAndCarriesTheClaims) {
    EvpPkeyPtr key = ParsePrivateKeyPem(plain_->private_pem, "", "key");
    std::string fp = PublicKeyFingerprint(key.get());
    JwtClaims claims = KeyPairClaims("xy12345.us-east-2.aws", "shipper_user", fp, 1000, 3540);
    EXPECT_EQ(claims.subject, "XY12345.SHIPPER_USER");
    EXPECT_EQ(claims.issuer, "XY12345.SHIPPER_USER.SHA256:" + fp);
    std::string jwt = SignJwt(key.get(), claims);

    size_t first = jwt.find('.');
    size_t second = jwt.find('.', first + 1);
    ASSERT_NE(second, std::string::npos);
    EXPECT_EQ(jwt.find('='), std::string::npos) << "base64url has no padding";
    auto header = nlohmann::json::parse(*Base64UrlDecode(jwt.substr(0, first)));
    EXPECT_EQ(header["alg"], "RS256");
    EXPECT_EQ(header["typ"], "JWT");
    auto payload =
        nlohmann::json::parse(*Base64UrlDecode(jwt.substr(first + 1, second - first - 1)));
    EXPECT_EQ(payload["iat"], 1000);
    EXPECT_EQ(payload["exp"], 1000 + 3540);
    EXPECT_EQ(JwtExpiry(jwt), 4540);

    EvpPkeyPtr public_key = ParsePublicKeyPem(plain_->public_pem);
    std::string signature = *Base64UrlDecode(jwt.substr(second + 1));
    std::string signed_part = jwt.substr(0, second);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key.get()), 1);
    EXPECT_EQ(EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char *>(signature.data()),
                               signature.size(),
                               reinterpret_cast<const unsigned char *>(signed_part.data()),
                               signed_part.size()),
              1);
    signed_part[signed_part.size() - 1] ^= 1;
    EXPECT_NE(EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char *>(signature.data()),
                               signature.size(),
                               reinterpret_cast<const unsigned char *>(signed_part.data()),
                               signed_part.size()),
              1);
}

TEST(JwtAccountName, LocatorOrgAndPlainForms) {
    EXPECT_EQ(JwtAccountName("xy12345.us-east-2.aws"), "XY12345");
    EXPECT_EQ(JwtAccountName("xy12345.us-east-1"), "XY12345");
    EXPECT_EQ(JwtAccountName("myorg.acct1"), "MYORG-ACCT1");
    EXPECT_EQ(JwtAccountName("myorg-acct1"), "MYORG-ACCT1");
}

TEST(Base64, KnownVectors) {
    EXPECT_EQ(Base64Encode(""), "");
    EXPECT_EQ(Base64Encode("f"), "Zg==");
    EXPECT_EQ(Base64Encode("fo"), "Zm8=");
    EXPECT_EQ(Base64Encode("foo"), "Zm9v");
    EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
    EXPECT_EQ(Base64UrlDecode("-_8"), std::string("\xfb\xff"));
    EXPECT_EQ(Base64UrlDecode("Zm9vYg"), "foob");
    EXPECT_FALSE(Base64UrlDecode("a b"));
}

TEST(JwtExpiry, AbsentOrUnreadable) {
    EXPECT_FALSE(JwtExpiry("opaque-token"));
    EXPECT_FALSE(JwtExpiry("a.b.c"));
    EXPECT_EQ(JwtExpiry("x." + Base64UrlEncode(R"({"exp":77})") + ".y"), 77);
}

}  // namespace
}  // namespace snowcdc::snowpipe
