// JWT verification (HS256, RS256, ES256), JWKS parsing and refresh, and the Authenticator's use
// of them. Keys are generated and tokens signed here with OpenSSL.
#include "tams/http/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tams/http/auth.h"
#include "tams/http/jwks.h"

namespace tams::http::jwt {
namespace {

namespace bj = boost::json;

constexpr int64_t kNow = 1'750'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef-hs256";

// ---------------------------------------------------------------------------------------------
// Keys and tokens made in the test.

using Pkey = std::shared_ptr<EVP_PKEY>;

Pkey generate_rsa() {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), EVP_PKEY_free);
}

Pkey generate_ec() {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
}

// Generated once: RSA key generation is slow.
const Pkey& rsa_key() {
  static Pkey k = generate_rsa();
  return k;
}
const Pkey& rsa_key2() {
  static Pkey k = generate_rsa();
  return k;
}
const Pkey& ec_key() {
  static Pkey k = generate_ec();
  return k;
}
const Pkey& ec_key2() {
  static Pkey k = generate_ec();
  return k;
}

std::string bn_bytes(const EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1);
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

std::string bn_bytes_padded(const EVP_PKEY* key, const char* name, int size) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1);
  std::string out(static_cast<size_t>(size), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  BN_free(bn);
  return out;
}

bj::object rsa_jwk(const Pkey& key, const std::string& kid) {
  bj::object jwk{{"kty", "RSA"},
                 {"n", base64url_encode(bn_bytes(key.get(), OSSL_PKEY_PARAM_RSA_N))},
                 {"e", base64url_encode(bn_bytes(key.get(), OSSL_PKEY_PARAM_RSA_E))}};
  if (!kid.empty()) jwk["kid"] = kid;
  return jwk;
}

bj::object ec_jwk(const Pkey& key, const std::string& kid) {
  bj::object jwk{{"kty", "EC"},
                 {"crv", "P-256"},
                 {"x", base64url_encode(bn_bytes_padded(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32))},
                 {"y", base64url_encode(bn_bytes_padded(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
  if (!kid.empty()) jwk["kid"] = kid;
  return jwk;
}

std::string jwks_json(std::initializer_list<bj::object> keys) {
  bj::array array;
  for (const auto& k : keys) array.push_back(k);
  return bj::serialize(bj::object{{"keys", array}});
}

std::string hmac(const std::string& secret, const std::string& input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

std::string digest_sign(const Pkey& key, const std::string& input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()), 1);
  size_t len = 0;
  EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  sig.resize(len);
  return sig;
}

// DER ECDSA signature -> JWS r || s.
std::string der_to_raw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  std::string out(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(out.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return out;
}

bj::object claims(bj::object extra = {}) {
  bj::object c{{"sub", "alice"}, {"exp", kNow + 600}, {"scope", "tams-api/read"}};
  for (auto& [k, v] : extra) c[k] = v;
  return c;
}

std::string encode_part(const bj::value& v) { return base64url_encode(bj::serialize(v)); }

// A token with this header and payload, signed according to `alg` with `key` (or kSecret).
std::string sign(const bj::object& header, const bj::object& payload, const Pkey& key = nullptr,
                 const std::string& secret = kSecret) {
  const std::string input = encode_part(header) + "." + encode_part(payload);
  const std::string alg(header.at("alg").as_string());
  std::string sig;
  if (alg == "HS256")
    sig = hmac(secret, input);
  else if (alg == "RS256")
    sig = digest_sign(key, input);
  else if (alg == "ES256")
    sig = der_to_raw(digest_sign(key, input));
  return input + "." + base64url_encode(sig);
}

std::string hs256(const bj::object& payload) { return sign({{"alg", "HS256"}}, payload); }
std::string rs256(const bj::object& payload, const std::string& kid = "rsa1",
                  const Pkey& key = rsa_key()) {
  bj::object header{{"alg", "RS256"}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = kid;
  return sign(header, payload, key);
}
std::string es256(const bj::object& payload, const std::string& kid = "ec1",
                  const Pkey& key = ec_key()) {
  bj::object header{{"alg", "ES256"}};
  if (!kid.empty()) header["kid"] = kid;
  return sign(header, payload, key);
}

std::shared_ptr<KeyProvider> default_keys() {
  return std::make_shared<StaticKeys>(
      parse_jwks(jwks_json({rsa_jwk(rsa_key(), "rsa1"), ec_jwk(ec_key(), "ec1")})));
}

VerifierOptions all_options() {
  VerifierOptions o;
  o.hs256_secret = kSecret;
  o.keys = default_keys();
  return o;
}

// The refusal reason, or "" when the token is accepted.
std::string refusal(const Verifier& v, const std::string& token, int64_t now = kNow) {
  auto r = v.verify(token, now);
  if (r.principal) return "";
  EXPECT_FALSE(r.reason.empty());
  return r.reason.empty() ? "?" : r.reason;
}

// ---------------------------------------------------------------------------------------------
// base64url and helpers.

TEST(Base64Url, RoundTrips) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    EXPECT_EQ(base64url_decode(base64url_encode(s)), s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8"), "\xfb\xff");
}

TEST(Base64Url, IsStrict) {
  for (const char* bad :
       {"Zg==", "Zg=", "Zm9v+", "Zm9v/", "Zm 9v", "Zm9v\n", "Z", "Zm9vY", "Zh", "Zm9="}) {
    EXPECT_FALSE(base64url_decode(bad).has_value()) << bad;
  }
  EXPECT_EQ(base64url_decode("Zg"), "f");
}

TEST(Jwt, LooksLikeJwt) {
  EXPECT_TRUE(looks_like_jwt("a.b.c"));
  for (const char* s : {"abc", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b.", ""}) {
    EXPECT_FALSE(looks_like_jwt(s)) << s;
  }
}

TEST(Jwt, SplitScopes) {
  EXPECT_EQ(split_scopes("  a b  a c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_scopes("").empty());
}

// ---------------------------------------------------------------------------------------------
// Valid tokens.

TEST(Jwt, Hs256Valid) {
  Verifier v(all_options());
  auto r = v.verify(hs256(claims()), kNow);
  ASSERT_TRUE(r.principal) << r.reason;
  EXPECT_EQ(r.principal->name, "alice");
  EXPECT_EQ(r.principal->scopes, std::vector<std::string>{"tams-api/read"});
}

TEST(Jwt, Rs256Valid) {
  Verifier v(all_options());
  auto r = v.verify(rs256(claims({{"sub", "svc-rsa"}})), kNow);
  ASSERT_TRUE(r.principal) << r.reason;
  EXPECT_EQ(r.principal->name, "svc-rsa");
}

TEST(Jwt, Es256Valid) {
  Verifier v(all_options());
  auto r = v.verify(es256(claims({{"sub", "svc-ec"}})), kNow);
  ASSERT_TRUE(r.principal) << r.reason;
  EXPECT_EQ(r.principal->name, "svc-ec");
}

// Some publishers (PyJWT before 2.7) write EC coordinates without their leading zero bytes; such
// a key (about 1 in 128) must still verify.
TEST(Jwt, Es256KeyWithShortCoordinates) {
  Pkey key = generate_ec();
  while (bn_bytes_padded(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32)[0] != '\0') key = generate_ec();
  bj::object jwk = ec_jwk(key, "short");
  jwk["x"] = base64url_encode(bn_bytes(key.get(), OSSL_PKEY_PARAM_EC_PUB_X));
  ASSERT_LT(base64url_decode(std::string(jwk["x"].as_string()))->size(), 32u);
  VerifierOptions o;
  o.keys = std::make_shared<StaticKeys>(parse_jwks(jwks_json({jwk})));
  Verifier v(o);
  EXPECT_EQ(refusal(v, es256(claims(), "short", key)), "");
}

TEST(Jwt, Es256DerSignatureIsRefused) {
  Verifier v(all_options());
  bj::object header{{"alg", "ES256"}, {"kid", "ec1"}};
  const std::string input = encode_part(header) + "." + encode_part(claims());
  EXPECT_EQ(refusal(v, input + "." + base64url_encode(digest_sign(ec_key(), input))),
            "bad signature");
}

TEST(Jwt, FractionalNumericDates) {
  Verifier v(all_options());
  EXPECT_EQ(refusal(v, hs256(claims({{"exp", kNow + 0.5}, {"nbf", kNow - 0.5}}))), "");
}

// ---------------------------------------------------------------------------------------------
// Time claims.

TEST(Jwt, ExpiredAndSkew) {
  VerifierOptions o = all_options();
  o.clock_skew_seconds = 60;
  Verifier v(o);
  EXPECT_EQ(refusal(v, hs256(claims({{"exp", kNow - 61}}))), "expired");
  EXPECT_EQ(refusal(v, hs256(claims({{"exp", kNow - 60}}))), "expired");
  EXPECT_EQ(refusal(v, hs256(claims({{"exp", kNow - 59}}))), "");
  o.clock_skew_seconds = 0;
  Verifier strict(o);
  EXPECT_EQ(refusal(strict, hs256(claims({{"exp", kNow}}))), "expired");
  EXPECT_EQ(refusal(strict, hs256(claims({{"exp", kNow + 1}}))), "");
}

TEST(Jwt, ExpIsRequired) {
  Verifier v(all_options());
  bj::object c = claims();
  c.erase("exp");
  EXPECT_EQ(refusal(v, hs256(c)), "no exp claim");
  EXPECT_EQ(refusal(v, hs256(claims({{"exp", "tomorrow"}}))), "exp is not a number");
}

TEST(Jwt, NotBeforeAndSkew) {
  VerifierOptions o = all_options();
  o.clock_skew_seconds = 30;
  Verifier v(o);
  EXPECT_EQ(refusal(v, hs256(claims({{"nbf", kNow + 31}}))), "not valid yet (nbf)");
  EXPECT_EQ(refusal(v, hs256(claims({{"nbf", kNow + 30}}))), "");
  EXPECT_EQ(refusal(v, hs256(claims({{"nbf", kNow - 1000}}))), "");
  EXPECT_EQ(refusal(v, hs256(claims({{"nbf", true}}))), "nbf is not a number");
}

// ---------------------------------------------------------------------------------------------
// Issuer and audience.

TEST(Jwt, Issuer) {
  VerifierOptions o = all_options();
  o.issuer = "https://idp.example/realms/media";
  Verifier v(o);
  EXPECT_EQ(refusal(v, hs256(claims({{"iss", "https://idp.example/realms/media"}}))), "");
  EXPECT_EQ(refusal(v, hs256(claims({{"iss", "https://idp.example/realms/other"}}))),
            "wrong or missing iss");
  EXPECT_EQ(refusal(v, hs256(claims())), "wrong or missing iss");
  EXPECT_EQ(refusal(v, hs256(claims({{"iss", bj::array{"https://idp.example/realms/media"}}}))),
            "wrong or missing iss");
  // Without a configured issuer any iss is fine.
  Verifier any(all_options());
  EXPECT_EQ(refusal(any, hs256(claims({{"iss", "whoever"}}))), "");
}

TEST(Jwt, Audience) {
  VerifierOptions o = all_options();
  o.audience = "tams";
  Verifier v(o);
  EXPECT_EQ(refusal(v, hs256(claims({{"aud", "tams"}}))), "");
  EXPECT_EQ(refusal(v, hs256(claims({{"aud", bj::array{"account", "tams"}}}))), "");
  EXPECT_EQ(refusal(v, hs256(claims({{"aud", "account"}}))), "wrong or missing aud");
  EXPECT_EQ(refusal(v, hs256(claims({{"aud", bj::array{"account", "tams-x"}}}))),
            "wrong or missing aud");
  EXPECT_EQ(refusal(v, hs256(claims())), "wrong or missing aud");
  Verifier any(all_options());
  EXPECT_EQ(refusal(any, hs256(claims({{"aud", "other"}}))), "");
}

// ---------------------------------------------------------------------------------------------
// Signatures and algorithms.

TEST(Jwt, WrongSignatures) {
  Verifier v(all_options());
  EXPECT_EQ(refusal(v, sign({{"alg", "HS256"}}, claims(), nullptr,
                            "another-secret-another-secret-another")),
            "bad signature");
  // The right kid, but signed by another key.
  EXPECT_EQ(refusal(v, rs256(claims(), "rsa1", rsa_key2())), "bad signature");
  EXPECT_EQ(refusal(v, es256(claims(), "ec1", ec_key2())), "bad signature");
  // A valid signature over another payload.
  const std::string good = hs256(claims());
  const std::string other = hs256(claims({{"sub", "mallory"}}));
  const std::string spliced = good.substr(0, good.find('.')) +
                              other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                              good.substr(good.rfind('.'));
  EXPECT_EQ(refusal(v, spliced), "bad signature");
  // Truncated signatures.
  const std::string es = es256(claims());
  EXPECT_NE(refusal(v, es.substr(0, es.size() - 4)), "");
}

TEST(Jwt, AlgNoneIsRefused) {
  Verifier v(all_options());
  const std::string unsigned_token =
      encode_part(bj::object{{"alg", "none"}}) + "." + encode_part(claims()) + ".";
  EXPECT_EQ(refusal(v, unsigned_token), "alg none is not accepted");
  EXPECT_EQ(refusal(v, unsigned_token + "c2ln"), "alg none is not accepted");
  EXPECT_EQ(
      refusal(v, encode_part(bj::object{{"alg", "None"}}) + "." + encode_part(claims()) + ".c2ln"),
      "alg None is not accepted");
}

TEST(Jwt, OnlyConfiguredAlgs) {
  VerifierOptions hs_only;
  hs_only.hs256_secret = kSecret;
  Verifier hs(hs_only);
  EXPECT_EQ(refusal(hs, rs256(claims())), "alg RS256 is not accepted");
  EXPECT_EQ(refusal(hs, es256(claims())), "alg ES256 is not accepted");
  VerifierOptions keys_only;
  keys_only.keys = default_keys();
  Verifier keys(keys_only);
  EXPECT_EQ(refusal(keys, hs256(claims())), "alg HS256 is not accepted");
  for (const char* alg : {"HS384", "RS512", "PS256", "ES384", "EdDSA"}) {
    EXPECT_EQ(refusal(keys, sign({{"alg", alg}}, claims())),
              std::string("alg ") + alg + " is not accepted");
  }
}

TEST(Jwt, AlgConfusionIsRefused) {
  // HS256 "signed" with the RSA public key as the HMAC secret.
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, rsa_key().get());
  char* pem = nullptr;
  const long pem_len = BIO_get_mem_data(bio, &pem);
  const std::string public_pem(pem, static_cast<size_t>(pem_len));
  BIO_free(bio);
  VerifierOptions keys_only;
  keys_only.keys = default_keys();
  Verifier keys(keys_only);
  EXPECT_EQ(refusal(keys, sign({{"alg", "HS256"}, {"kid", "rsa1"}}, claims(), nullptr, public_pem)),
            "alg HS256 is not accepted");
  // With a secret configured too, the public key is still not the secret.
  Verifier all(all_options());
  EXPECT_EQ(refusal(all, sign({{"alg", "HS256"}, {"kid", "rsa1"}}, claims(), nullptr, public_pem)),
            "bad signature");
  // An ES256 header naming the RSA key and vice versa.
  EXPECT_EQ(refusal(all, es256(claims(), "rsa1")), "key rsa1 is not an ES256 key");
  EXPECT_EQ(refusal(all, rs256(claims(), "ec1")), "key ec1 is not an RS256 key");
}

TEST(Jwt, JwkAlgRestrictsTheKey) {
  bj::object jwk = rsa_jwk(rsa_key(), "rsa1");
  jwk["alg"] = "RS256";
  VerifierOptions o;
  o.keys = std::make_shared<StaticKeys>(parse_jwks(jwks_json({jwk})));
  EXPECT_EQ(refusal(Verifier(o), rs256(claims())), "");
  jwk["alg"] = "RS512";
  std::vector<std::string> skipped;
  EXPECT_TRUE(parse_jwks(jwks_json({jwk}), &skipped).keys.empty());
  EXPECT_EQ(skipped.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Key selection.

// Counts refreshes and serves `next` after the first one.
class RotatingKeys : public KeyProvider {
 public:
  RotatingKeys(JwkSet first, JwkSet next)
      : current_(std::make_shared<const JwkSet>(std::move(first))),
        next_(std::make_shared<const JwkSet>(std::move(next))) {}
  std::shared_ptr<const JwkSet> keys() const override { return current_; }
  std::shared_ptr<const JwkSet> refresh_for_unknown_key(
      const std::shared_ptr<const JwkSet>&) override {
    ++refreshes;
    current_ = next_;
    return current_;
  }
  std::atomic<int> refreshes{0};

 private:
  std::shared_ptr<const JwkSet> current_;
  std::shared_ptr<const JwkSet> next_;
};

TEST(Jwt, UnknownKidTriggersOneRefresh) {
  auto keys = std::make_shared<RotatingKeys>(
      parse_jwks(jwks_json({rsa_jwk(rsa_key(), "rsa1")})),
      parse_jwks(jwks_json({rsa_jwk(rsa_key(), "rsa1"), rsa_jwk(rsa_key2(), "rsa2")})));
  VerifierOptions o;
  o.keys = keys;
  Verifier v(o);
  EXPECT_EQ(refusal(v, rs256(claims())), "");
  EXPECT_EQ(keys->refreshes, 0);
  EXPECT_EQ(refusal(v, rs256(claims(), "rsa2", rsa_key2())), "");
  EXPECT_EQ(keys->refreshes, 1);
  EXPECT_EQ(refusal(v, rs256(claims(), "rsa3", rsa_key2())), "unknown kid");
  EXPECT_EQ(keys->refreshes, 2);
}

TEST(Jwt, TokenWithoutKid) {
  VerifierOptions one;
  one.keys = std::make_shared<StaticKeys>(
      parse_jwks(jwks_json({rsa_jwk(rsa_key(), "rsa1"), ec_jwk(ec_key(), "ec1")})));
  Verifier v(one);
  // One key of each type: the one of the token's type is used.
  EXPECT_EQ(refusal(v, rs256(claims(), "")), "");
  EXPECT_EQ(refusal(v, es256(claims(), "")), "");
  VerifierOptions two;
  two.keys = std::make_shared<StaticKeys>(
      parse_jwks(jwks_json({rsa_jwk(rsa_key(), "rsa1"), rsa_jwk(rsa_key2(), "rsa2")})));
  EXPECT_EQ(refusal(Verifier(two), rs256(claims(), "")),
            "token has no kid and the JWKS has several RS256 keys");
  EXPECT_EQ(refusal(Verifier(two), es256(claims(), "")), "no ES256 key in the JWKS");
}

// ---------------------------------------------------------------------------------------------
// Malformed tokens.

TEST(Jwt, MalformedTokens) {
  Verifier v(all_options());
  const std::string good = hs256(claims());
  const std::string header = good.substr(0, good.find('.'));
  const std::string payload = encode_part(claims());
  auto signed_with = [&](const std::string& h, const std::string& p) {
    return h + "." + p + "." + base64url_encode(hmac(kSecret, h + "." + p));
  };
  EXPECT_EQ(refusal(v, "abc"), "not a JWS compact serialisation");
  EXPECT_EQ(refusal(v, "a.b"), "not a JWS compact serialisation");
  EXPECT_EQ(refusal(v, good + ".x"), "not a JWS compact serialisation");
  EXPECT_EQ(refusal(v, "!!." + payload + ".c2ln"), "header is not base64url-encoded JSON object");
  EXPECT_EQ(refusal(v, header + "=." + payload + ".c2ln"),
            "header is not base64url-encoded JSON object");
  EXPECT_EQ(refusal(v, base64url_encode("{\"alg\":") + "." + payload + ".c2ln"),
            "header is not base64url-encoded JSON object");
  EXPECT_EQ(refusal(v, base64url_encode("[1]") + "." + payload + ".c2ln"),
            "header is not base64url-encoded JSON object");
  EXPECT_EQ(refusal(v, encode_part(bj::object{{"typ", "JWT"}}) + "." + payload + ".c2ln"),
            "header has no alg");
  EXPECT_EQ(
      refusal(v, encode_part(bj::object{{"alg", "HS256"}, {"kid", 7}}) + "." + payload + ".c2ln"),
      "kid is not a string");
  EXPECT_EQ(
      refusal(v, signed_with(encode_part(bj::object{{"alg", "HS256"}, {"crit", bj::array{"x"}}}),
                             payload)),
      "header has crit extensions");
  EXPECT_EQ(refusal(v, header + "." + payload + ".c2ln="), "signature is not base64url");
  EXPECT_EQ(refusal(v, good + "+"), "signature is not base64url");
  EXPECT_EQ(refusal(v, signed_with(header, base64url_encode("not json"))),
            "payload is not a base64url-encoded JSON object");
  EXPECT_EQ(refusal(v, signed_with(header, base64url_encode("\"str\""))),
            "payload is not a base64url-encoded JSON object");
  EXPECT_EQ(refusal(v, signed_with(header, payload + "=")),
            "payload is not a base64url-encoded JSON object");
  EXPECT_EQ(refusal(v, std::string(20000, 'a')), "token too long");
}

// ---------------------------------------------------------------------------------------------
// Claims -> principal.

TEST(Jwt, ScopeAndScp) {
  Verifier v(all_options());
  auto scopes = [&](bj::object extra) {
    bj::object c = claims(std::move(extra));
    if (!c.contains("scope") || c.at("scope").is_null()) c.erase("scope");
    auto r = v.verify(hs256(c), kNow);
    EXPECT_TRUE(r.principal) << r.reason;
    return r.principal ? r.principal->scopes : std::vector<std::string>{"?"};
  };
  using S = std::vector<std::string>;
  EXPECT_EQ(scopes({{"scope", "tams-api/read  tams-api/write openid"}}),
            (S{"tams-api/read", "tams-api/write", "openid"}));
  EXPECT_EQ(scopes({{"scope", nullptr}, {"scp", bj::array{"tams-api/delete", "tams-api/admin"}}}),
            (S{"tams-api/delete", "tams-api/admin"}));
  EXPECT_EQ(scopes({{"scope", nullptr}, {"scp", "tams-api/read tams-api/write"}}),
            (S{"tams-api/read", "tams-api/write"}));
  EXPECT_EQ(scopes({{"scope", "tams-api/read"}, {"scp", bj::array{"tams-api/read", "x"}}}),
            (S{"tams-api/read", "x"}));
  EXPECT_EQ(scopes({{"scope", nullptr}}), S{});
  EXPECT_EQ(scopes({{"scope", ""}}), S{});
  EXPECT_EQ(refusal(v, hs256(claims({{"scope", 5}}))),
            "scope is neither a string nor an array of strings");
  EXPECT_EQ(refusal(v, hs256(claims({{"scp", bj::array{"a", 1}}}))),
            "scp is neither a string nor an array of strings");
}

TEST(Jwt, PrincipalName) {
  Verifier v(all_options());
  auto name = [&](bj::object c) {
    auto r = v.verify(hs256(c), kNow);
    return r.principal ? r.principal->name : "refused: " + r.reason;
  };
  EXPECT_EQ(name({{"exp", kNow + 10}, {"sub", "s"}, {"client_id", "c"}}), "s");
  EXPECT_EQ(name({{"exp", kNow + 10}, {"client_id", "c"}}), "c");
  EXPECT_EQ(name({{"exp", kNow + 10}, {"sub", ""}, {"client_id", "c"}}), "c");
  EXPECT_EQ(name({{"exp", kNow + 10}}), "jwt");
}

// ---------------------------------------------------------------------------------------------
// JWKS parsing.

TEST(Jwks, ParsesRsaAndEcKeys) {
  std::vector<std::string> skipped;
  bj::object enc = rsa_jwk(rsa_key2(), "enc");
  enc["use"] = "enc";
  bj::object p384{{"kty", "EC"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}, {"kid", "p384"}};
  bj::object oct{{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "oct"}};
  bj::object sig = ec_jwk(ec_key2(), "sig");
  sig["use"] = "sig";
  JwkSet set = parse_jwks(
      jwks_json({rsa_jwk(rsa_key(), "r"), ec_jwk(ec_key(), "e"), enc, p384, oct, sig}), &skipped);
  ASSERT_EQ(set.keys.size(), 3u);
  EXPECT_EQ(set.keys[0].kid, "r");
  EXPECT_EQ(set.keys[0].type, Jwk::Type::kRsa);
  EXPECT_EQ(EVP_PKEY_get_bits(set.keys[0].key.get()), 2048);
  EXPECT_EQ(set.keys[1].kid, "e");
  EXPECT_EQ(set.keys[1].type, Jwk::Type::kEcP256);
  EXPECT_EQ(EVP_PKEY_eq(set.keys[1].key.get(), ec_key().get()), 1);
  EXPECT_EQ(EVP_PKEY_eq(set.keys[0].key.get(), rsa_key().get()), 1);
  EXPECT_EQ(set.keys[2].kid, "sig");
  EXPECT_EQ(skipped.size(), 3u);
}

TEST(Jwks, Errors) {
  auto error = [](const std::string& json) {
    try {
      parse_jwks(json);
    } catch (const JwksError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("not json"), "not JSON");
  EXPECT_EQ(error("[]"), "not a JWKS: expected an object with a \"keys\" array");
  EXPECT_EQ(error("{\"keys\": {}}"), "not a JWKS: expected an object with a \"keys\" array");
  EXPECT_EQ(error("{\"keys\": [1]}"), "key 1: not an object");
  EXPECT_EQ(error(R"({"keys": [{"kty": "RSA", "e": "AQAB"}]})"),
            "key 1: \"n\" is missing or not a string");
  EXPECT_EQ(error(R"({"keys": [{"kty": "RSA", "n": "a+b", "e": "AQAB"}]})"),
            "key 1: \"n\" is not base64url");
  // A 512-bit modulus.
  EXPECT_EQ(error(R"({"keys": [{"kty": "RSA", "n": ")" + base64url_encode(std::string(64, '\xc1')) +
                  R"(", "e": "AQAB"}]})"),
            "key 1: RSA modulus shorter than 2048 bits");
  bj::object long_x = ec_jwk(ec_key(), "e");
  long_x["x"] = base64url_encode(std::string(33, '\x01'));
  EXPECT_EQ(error(jwks_json({long_x})), "key 1: P-256 \"x\" and \"y\" must be 1 to 32 bytes");
  bj::object empty_y = ec_jwk(ec_key(), "e");
  empty_y["y"] = "";
  EXPECT_NE(error(jwks_json({empty_y})), "no error");
  bj::object off_curve = ec_jwk(ec_key(), "e");
  off_curve["y"] = base64url_encode(std::string(32, '\x01'));
  EXPECT_EQ(error(jwks_json({off_curve})), "key 1: not a valid EC public key");
  EXPECT_EQ(error(R"({"keys": []})"), "no error");
}

// ---------------------------------------------------------------------------------------------
// JwksSource from a file.

class JwksFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tams_jwks_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "jwks.json").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& content) { std::ofstream(path_, std::ios::binary) << content; }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(JwksFileTest, LoadsAndRefreshesOnUnknownKid) {
  write(jwks_json({rsa_jwk(rsa_key(), "rsa1")}));
  JwksSourceOptions options;
  options.file = path_;
  options.unknown_key_interval = std::chrono::seconds(0);
  auto source = std::make_shared<JwksSource>(options);
  source->load();
  VerifierOptions o;
  o.keys = source;
  Verifier v(o);
  EXPECT_EQ(refusal(v, rs256(claims())), "");
  EXPECT_EQ(refusal(v, es256(claims(), "ec1")), "unknown kid");
  write(jwks_json({ec_jwk(ec_key(), "ec1")}));
  EXPECT_EQ(refusal(v, es256(claims(), "ec1")), "");
  EXPECT_EQ(refusal(v, rs256(claims())), "unknown kid");  // rotated out
  // A broken file keeps the keys in place.
  write("{broken");
  EXPECT_EQ(refusal(v, rs256(claims())), "unknown kid");
  EXPECT_EQ(refusal(v, es256(claims(), "ec1")), "");
}

TEST_F(JwksFileTest, UnknownKidRefreshIsRateLimited) {
  write(jwks_json({rsa_jwk(rsa_key(), "rsa1")}));
  JwksSourceOptions options;
  options.file = path_;
  options.unknown_key_interval = std::chrono::seconds(3600);
  auto source = std::make_shared<JwksSource>(options);
  source->load();
  VerifierOptions o;
  o.keys = source;
  Verifier v(o);
  // The first unknown kid reloads at once, the next one waits for the interval.
  write(jwks_json({rsa_jwk(rsa_key(), "rsa1"), ec_jwk(ec_key(), "ec1")}));
  EXPECT_EQ(refusal(v, es256(claims(), "ec1")), "");
  write(jwks_json({rsa_jwk(rsa_key2(), "rsa2")}));
  EXPECT_EQ(refusal(v, rs256(claims(), "rsa2", rsa_key2())), "unknown kid");
  EXPECT_EQ(refusal(v, es256(claims(), "ec1")), "");
  // Explicit and periodic loads are not limited.
  source->load();
  EXPECT_EQ(refusal(v, rs256(claims(), "rsa2", rsa_key2())), "");
}

TEST_F(JwksFileTest, LoadErrorsNameTheFileNotTheContent) {
  JwksSourceOptions options;
  options.file = path_;
  JwksSource source(options);
  try {
    source.load();
    ADD_FAILURE() << "no error for a missing file";
  } catch (const JwksError& e) {
    EXPECT_EQ(std::string(e.what()), "JWKS file " + path_ + ": cannot open");
  }
  write("{\"keys\": \"secret-ish\"}");
  try {
    source.load();
    ADD_FAILURE() << "no error for a bad file";
  } catch (const JwksError& e) {
    EXPECT_EQ(std::string(e.what()).find("secret-ish"), std::string::npos);
  }
  EXPECT_TRUE(source.keys()->keys.empty());
}

TEST_F(JwksFileTest, BackgroundRefresh) {
  write(jwks_json({rsa_jwk(rsa_key(), "rsa1")}));
  JwksSourceOptions options;
  options.file = path_;
  options.refresh_interval = std::chrono::seconds(1);
  options.unknown_key_interval = std::chrono::seconds(3600);
  JwksSource source(options);
  source.load();
  source.start();
  write(jwks_json({ec_jwk(ec_key(), "ec1")}));
  bool rotated = false;
  for (int i = 0; i < 50 && !rotated; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    rotated = !source.keys()->keys.empty() && source.keys()->keys[0].kid == "ec1";
  }
  source.stop();
  EXPECT_TRUE(rotated);
}

// ---------------------------------------------------------------------------------------------
// The Authenticator.

TEST(Authenticator, StaticCredentialsGetTheStaticScopes) {
  AuthOptions o;
  o.users = {{"alice", "pw"}};
  o.tokens = {"tok"};
  o.static_scopes = {"tams-api/read"};
  Authenticator a(o);
  auto basic = a.authenticate("Basic YWxpY2U6cHc=", std::nullopt);
  ASSERT_TRUE(basic.principal);
  EXPECT_EQ(basic.principal->name, "alice");
  EXPECT_EQ(basic.principal->scopes, std::vector<std::string>{"tams-api/read"});
  auto token = a.authenticate("", "tok");
  ASSERT_TRUE(token.principal);
  EXPECT_EQ(token.principal->scopes, std::vector<std::string>{"tams-api/read"});
  Authenticator all({{"alice", "pw"}}, {});
  EXPECT_EQ(all.authenticate("Basic YWxpY2U6cHc=", std::nullopt).principal->scopes.size(), 4u);
}

TEST(Authenticator, JwtsAndStaticTokens) {
  AuthOptions o;
  o.tokens = {"static-token"};
  VerifierOptions vo;
  vo.hs256_secret = kSecret;
  o.jwt = std::make_shared<Verifier>(vo);
  Authenticator a(o);
  const int64_t now = std::time(nullptr);
  const std::string jwt = hs256(claims({{"exp", now + 60}, {"sub", "bob"}}));
  auto r = a.authenticate("Bearer " + jwt, std::nullopt);
  ASSERT_TRUE(r.principal);
  EXPECT_EQ(r.principal->name, "bob");
  EXPECT_EQ(r.principal->scopes, std::vector<std::string>{"tams-api/read"});
  r = a.authenticate("", jwt);
  ASSERT_TRUE(r.principal);
  EXPECT_EQ(r.principal->name, "bob");
  EXPECT_TRUE(a.authenticate("Bearer static-token", std::nullopt).principal);
  auto expired = a.authenticate("Bearer " + hs256(claims({{"exp", now - 3600}})), std::nullopt);
  EXPECT_FALSE(expired.principal);
  EXPECT_TRUE(expired.bad_bearer);
  auto wrong = a.authenticate("Bearer nope", std::nullopt);
  EXPECT_TRUE(wrong.bad_bearer);
  auto basic = a.authenticate("Basic YWxpY2U6cHc=", std::nullopt);
  EXPECT_FALSE(basic.principal);
  EXPECT_FALSE(basic.bad_bearer);
  auto none = a.authenticate("", std::nullopt);
  EXPECT_FALSE(none.bad_bearer);
  EXPECT_EQ(Authenticator::challenges(true)[1], R"(Bearer realm="tams", error="invalid_token")");
  EXPECT_EQ(Authenticator::challenges(false)[1], R"(Bearer realm="tams")");
}

TEST(Authenticator, JwtShapedStaticTokensNeedNoJwtConfig) {
  Authenticator a({}, {"a.b.c"});
  EXPECT_TRUE(a.authenticate("Bearer a.b.c", std::nullopt).principal);
}

}  // namespace
}  // namespace tams::http::jwt
