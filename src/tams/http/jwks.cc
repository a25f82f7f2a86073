#include "tams/http/jwks.h"

#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tams/http/jwt.h"

namespace tams::http::jwt {

namespace bj = boost::json;

namespace {

constexpr size_t kMaxJwksBytes = 1 << 20;
constexpr int kMinRsaBits = 2048;

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

// A required base64url member of a JWK, decoded.
std::string member_bytes(const bj::object& jwk, std::string_view name, size_t index) {
  const bj::value* v = jwk.if_contains(name);
  if (v == nullptr || !v->is_string()) {
    throw JwksError("key " + std::to_string(index) + ": \"" + std::string(name) +
                    "\" is missing or not a string");
  }
  auto decoded = base64url_decode(v->as_string());
  if (!decoded || decoded->empty()) {
    throw JwksError("key " + std::to_string(index) + ": \"" + std::string(name) +
                    "\" is not base64url");
  }
  return std::move(*decoded);
}

std::string optional_string(const bj::object& jwk, std::string_view name) {
  const bj::value* v = jwk.if_contains(name);
  if (v != nullptr && v->is_string()) return std::string(v->as_string());
  return {};
}

Bn to_bn(const std::string& bytes) {
  Bn bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                  static_cast<int>(bytes.size()), nullptr));
  if (!bn) throw JwksError("out of memory");
  return bn;
}

// Builds a public key of `type` ("RSA" or "EC") from OSSL parameters.
std::shared_ptr<EVP_PKEY> from_params(const char* type, OSSL_PARAM_BLD* bld, size_t index) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || !pkey) {
    throw JwksError("key " + std::to_string(index) + ": not a valid " + type + " public key");
  }
  std::shared_ptr<EVP_PKEY> key(pkey, EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    throw JwksError("key " + std::to_string(index) + ": not a valid " + type + " public key");
  }
  return key;
}

std::shared_ptr<EVP_PKEY> rsa_key(const bj::object& jwk, size_t index) {
  Bn n = to_bn(member_bytes(jwk, "n", index));
  Bn e = to_bn(member_bytes(jwk, "e", index));
  if (BN_num_bits(n.get()) < kMinRsaBits) {
    throw JwksError("key " + std::to_string(index) + ": RSA modulus shorter than " +
                    std::to_string(kMinRsaBits) + " bits");
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    throw JwksError("out of memory");
  }
  return from_params("RSA", bld.get(), index);
}

std::shared_ptr<EVP_PKEY> ec_p256_key(const bj::object& jwk, size_t index) {
  std::string x = member_bytes(jwk, "x", index);
  std::string y = member_bytes(jwk, "y", index);
  // RFC 7518 §6.2.1.2 asks for the full 32 bytes, but some publishers (PyJWT before 2.7, among
  // others) drop leading zero bytes, about 1 key in 128: left-pad what is short, refuse what is
  // long or empty.
  if (x.empty() || y.empty() || x.size() > 32 || y.size() > 32) {
    throw JwksError("key " + std::to_string(index) +
                    ": P-256 \"x\" and \"y\" must be 1 to 32 bytes");
  }
  x.insert(0, 32 - x.size(), '\0');
  y.insert(0, 32 - y.size(), '\0');
  std::string point = "\x04" + x + y;  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    throw JwksError("out of memory");
  }
  return from_params("EC", bld.get(), index);
}

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > kMaxJwksBytes) return 0;  // aborts the transfer
  body->append(data, size * count);
  return size * count;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

std::string fetch(const std::string& url, std::chrono::seconds timeout) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) throw JwksError("cannot initialise libcurl");
  std::string body;
  char error[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &write_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "tams-jwks/1");
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    if (rc == CURLE_WRITE_ERROR) {
      throw JwksError("response larger than " + std::to_string(kMaxJwksBytes) + " bytes");
    }
    throw JwksError(error[0] != '\0' ? std::string(error) : curl_easy_strerror(rc));
  }
  return body;
}

}  // namespace

JwkSet parse_jwks(std::string_view json, std::vector<std::string>* skipped) {
  boost::system::error_code ec;
  bj::value doc = bj::parse(json, ec);
  if (ec) throw JwksError("not JSON");
  const bj::object* root = doc.if_object();
  const bj::value* keys = root ? root->if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) {
    throw JwksError("not a JWKS: expected an object with a \"keys\" array");
  }
  auto skip = [&](size_t index, const std::string& why) {
    if (skipped) skipped->push_back("key " + std::to_string(index) + ": " + why);
  };
  JwkSet set;
  size_t index = 0;
  for (const bj::value& v : keys->as_array()) {
    ++index;
    const bj::object* jwk = v.if_object();
    if (jwk == nullptr) throw JwksError("key " + std::to_string(index) + ": not an object");
    const std::string kty = optional_string(*jwk, "kty");
    const std::string use = optional_string(*jwk, "use");
    const std::string alg = optional_string(*jwk, "alg");
    if (!use.empty() && use != "sig") {
      skip(index, "\"use\" is not \"sig\"");
      continue;
    }
    Jwk key;
    key.kid = optional_string(*jwk, "kid");
    key.alg = alg;
    if (kty == "RSA") {
      if (!alg.empty() && alg != "RS256") {
        skip(index, "RSA key for another alg");
        continue;
      }
      key.type = Jwk::Type::kRsa;
      key.key = rsa_key(*jwk, index);
    } else if (kty == "EC") {
      if (optional_string(*jwk, "crv") != "P-256") {
        skip(index, "EC key on a curve other than P-256");
        continue;
      }
      if (!alg.empty() && alg != "ES256") {
        skip(index, "EC key for another alg");
        continue;
      }
      key.type = Jwk::Type::kEcP256;
      key.key = ec_p256_key(*jwk, index);
    } else {
      skip(index, "unsupported kty");
      continue;
    }
    set.keys.push_back(std::move(key));
  }
  return set;
}

JwksSource::JwksSource(JwksSourceOptions options)
    : options_(std::move(options)), keys_(std::make_shared<const JwkSet>()) {}

JwksSource::~JwksSource() { stop(); }

std::string JwksSource::description() const {
  return options_.url.empty() ? "file " + options_.file : "URL " + options_.url;
}

std::string JwksSource::read() const {
  if (!options_.url.empty()) return fetch(options_.url, options_.fetch_timeout);
  std::ifstream in(options_.file, std::ios::binary);
  if (!in) throw JwksError("cannot open");
  std::ostringstream content;
  content << in.rdbuf();
  if (!in && !in.eof()) throw JwksError("cannot read");
  std::string text = content.str();
  if (text.size() > kMaxJwksBytes) {
    throw JwksError("larger than " + std::to_string(kMaxJwksBytes) + " bytes");
  }
  return text;
}

void JwksSource::load() {
  std::lock_guard load_lock(load_mutex_);
  load_locked();
}

void JwksSource::load_locked() {
  std::vector<std::string> skipped;
  JwkSet set;
  try {
    set = parse_jwks(read(), &skipped);
  } catch (const JwksError& e) {
    throw JwksError("JWKS " + description() + ": " + e.what());
  }
  for (const auto& s : skipped) spdlog::debug("JWKS {}: skipped {}", description(), s);
  if (set.keys.empty()) {
    spdlog::warn("JWKS {}: no RS256 or ES256 signature keys", description());
  }
  const size_t count = set.keys.size();
  {
    std::lock_guard lock(keys_mutex_);
    keys_ = std::make_shared<const JwkSet>(std::move(set));
  }
  if (!loaded_once_)
    spdlog::info("JWKS {}: {} key(s)", description(), count);
  else
    spdlog::debug("JWKS {}: {} key(s)", description(), count);
  loaded_once_ = true;
}

bool JwksSource::reload(const char* why) {
  std::lock_guard load_lock(load_mutex_);
  return reload_locked(why);
}

bool JwksSource::reload_locked(const char* why) {
  try {
    load_locked();
    return true;
  } catch (const std::exception& e) {
    spdlog::warn("{} ({}); keeping the previous keys", e.what(), why);
    return false;
  }
}

std::shared_ptr<const JwkSet> JwksSource::keys() const {
  std::lock_guard lock(keys_mutex_);
  return keys_;
}

std::shared_ptr<const JwkSet> JwksSource::refresh_for_unknown_key(
    const std::shared_ptr<const JwkSet>& seen) {
  std::lock_guard load_lock(load_mutex_);
  // Another request may have reloaded while this one waited for the lock.
  if (keys() != seen) return keys();
  // Only these refreshes are rate-limited (a client can make any number of unknown kids): the
  // first one after start or a periodic refresh still happens at once.
  const auto now = std::chrono::steady_clock::now();
  if (!last_unknown_key_load_ || now - *last_unknown_key_load_ >= options_.unknown_key_interval) {
    last_unknown_key_load_ = now;
    reload_locked("token with an unknown key");
  }
  return keys();
}

void JwksSource::start() {
  std::lock_guard lock(run_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void JwksSource::stop() {
  {
    std::lock_guard lock(run_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JwksSource::run() {
  std::unique_lock lock(run_mutex_);
  while (!stopping_) {
    if (wake_.wait_for(lock, options_.refresh_interval, [this] { return stopping_; })) break;
    lock.unlock();
    reload("periodic refresh");
    lock.lock();
  }
}

}  // namespace tams::http::jwt
