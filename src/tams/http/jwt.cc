#include "tams/http/jwt.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "tams/model/base64url.h"

namespace tams::http::jwt {

namespace bj = boost::json;

namespace {

constexpr size_t kMaxTokenBytes = 16 * 1024;

Verification refuse(std::string reason) { return {std::nullopt, std::move(reason)}; }

// A header value from the token, made safe for a log line: printable ASCII only, at most 64.
std::string loggable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

// A JSON object from a base64url part, or nullptr.
std::optional<bj::object> decode_object(std::string_view part) {
  auto bytes = base64url_decode(part);
  if (!bytes) return std::nullopt;
  boost::system::error_code ec;
  bj::value v = bj::parse(*bytes, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

bool verify_hs256(const std::string& secret, std::string_view input, std::string_view sig) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(),
           &len) == nullptr) {
    return false;
  }
  return len == 32 && sig.size() == 32 && CRYPTO_memcmp(mac.data(), sig.data(), 32) == 0;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

bool digest_verify(EVP_PKEY* key, std::string_view input, const unsigned char* sig,
                   size_t sig_len) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), sig, sig_len,
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

// ES256 signatures are r || s, 32 bytes each (RFC 7518 §3.4); OpenSSL wants DER.
bool verify_es256(EVP_PKEY* key, std::string_view input, std::string_view sig) {
  if (sig.size() != 64) return false;
  const auto* raw = reinterpret_cast<const unsigned char*>(sig.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> ecdsa(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw, 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw + 32, 32, nullptr);
  if (!ecdsa || !r || !s || ECDSA_SIG_set0(ecdsa.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(ecdsa.get(), &der);
  if (der_len <= 0) return false;
  const bool ok = digest_verify(key, input, der, static_cast<size_t>(der_len));
  OPENSSL_free(der);
  return ok;
}

bool verify_rs256(EVP_PKEY* key, std::string_view input, std::string_view sig) {
  if (sig.empty()) return false;
  return digest_verify(key, input, reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

// A NumericDate claim (seconds, possibly fractional) as whole seconds; nullopt when it is not a
// number.
std::optional<int64_t> numeric_date(const bj::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) return std::numeric_limits<int64_t>::max();  // beyond int64: far future
  if (v.is_double()) {
    const double d = v.as_double();
    if (!std::isfinite(d)) return std::nullopt;
    if (d >= 9.2e18) return std::numeric_limits<int64_t>::max();
    if (d <= -9.2e18) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(std::floor(d));
  }
  return std::nullopt;
}

// Adds the scopes of a `scope`/`scp` claim value; false when it is neither a string nor an
// array of strings.
bool add_scopes(const bj::value& v, std::vector<std::string>& scopes) {
  auto add = [&](std::string_view text) {
    for (auto& s : split_scopes(text)) {
      if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) scopes.push_back(s);
    }
  };
  if (v.is_string()) {
    add(v.as_string());
    return true;
  }
  if (!v.is_array()) return false;
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return false;
    add(item.as_string());
  }
  return true;
}

bool key_fits(const Jwk& key, std::string_view alg) {
  const Jwk::Type wanted = alg == "RS256" ? Jwk::Type::kRsa : Jwk::Type::kEcP256;
  return key.type == wanted && (key.alg.empty() || key.alg == alg);
}

enum class Pick { kFound, kUnknown, kAmbiguous, kWrongType };

// The key for a token's alg and kid in `set`.
Pick pick_key(const JwkSet& set, std::string_view alg, const std::optional<std::string>& kid,
              const Jwk*& out) {
  out = nullptr;
  if (kid) {
    bool kid_seen = false;
    for (const Jwk& k : set.keys) {
      if (k.kid != *kid) continue;
      kid_seen = true;
      if (key_fits(k, alg)) {
        out = &k;
        return Pick::kFound;
      }
    }
    return kid_seen ? Pick::kWrongType : Pick::kUnknown;
  }
  size_t count = 0;
  for (const Jwk& k : set.keys) {
    if (key_fits(k, alg)) {
      out = &k;
      ++count;
    }
  }
  if (count == 1) return Pick::kFound;
  out = nullptr;
  return count == 0 ? Pick::kUnknown : Pick::kAmbiguous;
}

}  // namespace

bool looks_like_jwt(std::string_view token) {
  const size_t first = token.find('.');
  if (first == std::string_view::npos || first == 0) return false;
  const size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || second == first + 1) return false;
  return token.find('.', second + 1) == std::string_view::npos && second + 1 < token.size();
}

std::vector<std::string> split_scopes(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) {
      std::string s(text.substr(start, i - start));
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
    }
  }
  return out;
}

Verifier::Verifier(VerifierOptions options) : options_(std::move(options)) {}

Verification Verifier::verify(std::string_view token, int64_t now) const {
  if (token.size() > kMaxTokenBytes) return refuse("token too long");
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return refuse("not a JWS compact serialisation");
  }
  const std::string_view header_part = token.substr(0, dot1);
  const std::string_view payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_part = token.substr(dot2 + 1);
  const std::string_view signing_input = token.substr(0, dot2);

  // Header.
  auto header = decode_object(header_part);
  if (!header) return refuse("header is not base64url-encoded JSON object");
  const bj::value* alg_value = header->if_contains("alg");
  if (alg_value == nullptr || !alg_value->is_string()) return refuse("header has no alg");
  const std::string alg(alg_value->as_string());
  std::optional<std::string> kid;
  if (const bj::value* k = header->if_contains("kid")) {
    if (!k->is_string()) return refuse("kid is not a string");
    kid = std::string(k->as_string());
  }
  if (header->contains("crit")) return refuse("header has crit extensions");
  const bool hs = alg == "HS256" && !options_.hs256_secret.empty();
  const bool asym = (alg == "RS256" || alg == "ES256") && options_.keys != nullptr;
  if (!hs && !asym) return refuse("alg " + loggable(alg) + " is not accepted");

  // Signature, checked before anything in the payload is believed.
  auto signature = base64url_decode(signature_part);
  if (!signature || signature->empty()) return refuse("signature is not base64url");
  if (hs) {
    if (!verify_hs256(options_.hs256_secret, signing_input, *signature)) {
      return refuse("bad signature");
    }
  } else {
    auto set = options_.keys->keys();
    const Jwk* key = nullptr;
    Pick pick = pick_key(*set, alg, kid, key);
    if (pick == Pick::kUnknown) {
      set = options_.keys->refresh_for_unknown_key(set);
      pick = pick_key(*set, alg, kid, key);
    }
    switch (pick) {
      case Pick::kFound:
        break;
      case Pick::kUnknown:
        return refuse(kid ? "unknown kid" : "no " + alg + " key in the JWKS");
      case Pick::kAmbiguous:
        return refuse("token has no kid and the JWKS has several " + alg + " keys");
      case Pick::kWrongType:
        return refuse("key " + loggable(*kid) + " is not an " + alg + " key");
    }
    const bool ok = alg == "RS256" ? verify_rs256(key->key.get(), signing_input, *signature)
                                   : verify_es256(key->key.get(), signing_input, *signature);
    if (!ok) return refuse("bad signature");
  }

  // Claims.
  auto claims = decode_object(payload_part);
  if (!claims) return refuse("payload is not a base64url-encoded JSON object");
  const int64_t skew = options_.clock_skew_seconds;
  const bj::value* exp_value = claims->if_contains("exp");
  if (exp_value == nullptr) return refuse("no exp claim");
  const auto exp = numeric_date(*exp_value);
  if (!exp) return refuse("exp is not a number");
  if (now - skew >= *exp) return refuse("expired");
  if (const bj::value* nbf_value = claims->if_contains("nbf")) {
    const auto nbf = numeric_date(*nbf_value);
    if (!nbf) return refuse("nbf is not a number");
    if (*nbf > now + skew) return refuse("not valid yet (nbf)");
  }
  if (!options_.issuer.empty()) {
    const bj::value* iss = claims->if_contains("iss");
    if (iss == nullptr || !iss->is_string() || iss->as_string() != options_.issuer) {
      return refuse("wrong or missing iss");
    }
  }
  if (!options_.audience.empty()) {
    const bj::value* aud = claims->if_contains("aud");
    bool match = false;
    if (aud != nullptr && aud->is_string()) {
      match = aud->as_string() == options_.audience;
    } else if (aud != nullptr && aud->is_array()) {
      for (const auto& a : aud->as_array()) {
        if (a.is_string() && a.as_string() == options_.audience) match = true;
      }
    }
    if (!match) return refuse("wrong or missing aud");
  }

  core::Principal principal;
  for (const char* name : {"sub", "client_id"}) {
    const bj::value* v = claims->if_contains(name);
    if (v != nullptr && v->is_string() && !v->as_string().empty()) {
      principal.name = std::string(v->as_string());
      break;
    }
  }
  if (principal.name.empty()) principal.name = "jwt";
  for (const char* name : {"scope", "scp"}) {
    const bj::value* v = claims->if_contains(name);
    if (v != nullptr && !add_scopes(*v, principal.scopes)) {
      return refuse(std::string(name) + " is neither a string nor an array of strings");
    }
  }
  return {std::move(principal), {}};
}

}  // namespace tams::http::jwt
