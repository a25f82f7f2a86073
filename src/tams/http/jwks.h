// JSON Web Key Sets (RFC 7517): the public keys that RS256 and ES256 tokens are verified with,
// read from a file or fetched from an identity provider's URL and refreshed in the background.
#pragma once

#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tams::http::jwt {

// One usable signature key of a JWKS.
struct Jwk {
  enum class Type { kRsa, kEcP256 };
  std::string kid;  // empty when the JWK has none
  std::string alg;  // the JWK's "alg" (empty when absent): then only that alg may use the key
  Type type = Type::kRsa;
  std::shared_ptr<EVP_PKEY> key;
};

struct JwkSet {
  std::vector<Jwk> keys;
};

// A JWKS document that is not JSON, not an object with a "keys" array, or a key of a supported
// type (RSA, EC P-256) with malformed parameters. what() never contains key material.
class JwksError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses a JWKS. RSA keys (n, e; at least 2048 bits) and EC P-256 keys (x, y) become Jwks; keys
// of other types or curves, keys with "use" other than "sig", and keys whose "alg" is not RS256
// or ES256 are skipped, each with a note in `skipped` (when given). Throws JwksError.
JwkSet parse_jwks(std::string_view json, std::vector<std::string>* skipped = nullptr);

// Where a verifier gets its public keys. Implementations are safe for concurrent use.
class KeyProvider {
 public:
  virtual ~KeyProvider() = default;
  // The current key set (never null).
  virtual std::shared_ptr<const JwkSet> keys() const = 0;
  // Called when a token names a key that `seen` does not have: may load the keys again (at
  // most once per rate-limit interval) and returns the key set to look in now.
  virtual std::shared_ptr<const JwkSet> refresh_for_unknown_key(
      const std::shared_ptr<const JwkSet>& seen) = 0;
};

// A fixed key set (for tests and for callers that manage keys themselves).
class StaticKeys : public KeyProvider {
 public:
  explicit StaticKeys(JwkSet keys) : keys_(std::make_shared<const JwkSet>(std::move(keys))) {}
  std::shared_ptr<const JwkSet> keys() const override { return keys_; }
  std::shared_ptr<const JwkSet> refresh_for_unknown_key(
      const std::shared_ptr<const JwkSet>&) override {
    return keys_;
  }

 private:
  std::shared_ptr<const JwkSet> keys_;
};

struct JwksSourceOptions {
  std::string file;  // exactly one of file and url
  std::string url;
  std::chrono::seconds refresh_interval{300};
  // Tokens with an unknown kid trigger a reload at most this often (the first one at once).
  std::chrono::seconds unknown_key_interval{30};
  std::chrono::seconds fetch_timeout{10};
};

// Keys from a JWKS file or URL. load() reads them once; start() reloads them every
// refresh_interval on a background thread. A failed reload keeps the previous keys and logs a
// warning. Thread-safe.
class JwksSource : public KeyProvider {
 public:
  explicit JwksSource(JwksSourceOptions options);
  ~JwksSource() override;
  JwksSource(const JwksSource&) = delete;
  JwksSource& operator=(const JwksSource&) = delete;

  // Loads the keys now; throws JwksError (naming the file or URL, not its content) on failure,
  // leaving the current keys in place.
  void load();
  void start();
  void stop();

  std::shared_ptr<const JwkSet> keys() const override;
  std::shared_ptr<const JwkSet> refresh_for_unknown_key(
      const std::shared_ptr<const JwkSet>& seen) override;

  // "file /x/jwks.json" or "URL https://..." for messages.
  std::string description() const;

 private:
  std::string read() const;
  void load_locked();  // with load_mutex_ held
  // Loads and swaps in the keys; logs and returns false on failure.
  bool reload(const char* why);
  bool reload_locked(const char* why);
  void run();

  JwksSourceOptions options_;
  mutable std::mutex keys_mutex_;
  std::shared_ptr<const JwkSet> keys_;
  std::mutex load_mutex_;  // one load at a time
  std::optional<std::chrono::steady_clock::time_point> last_unknown_key_load_;
  bool loaded_once_ = false;
  std::mutex run_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tams::http::jwt
