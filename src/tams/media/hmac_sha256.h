// HMAC-SHA256 with a fixed key whose inner and outer padded states are computed once, so that
// signing a short message costs two context copies and a few compressions (a fraction of a
// microsecond), on a SHA-256 fetched once from OpenSSL with one context per thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tams::media {

// Thread-safe: mac() only reads the precomputed states. Not copyable.
class HmacSha256 {
 public:
  // Throws std::runtime_error when OpenSSL cannot set up HMAC-SHA256.
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  using Digest = std::array<uint8_t, 32>;
  // HMAC-SHA256(key, message). Throws std::runtime_error on an OpenSSL failure.
  Digest mac(std::string_view message) const;
  // The same as 64 lowercase hex digits.
  std::string hex(std::string_view message) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Lowercase hex of SHA-256(data). Throws std::runtime_error on an OpenSSL failure.
std::string sha256_hex(std::string_view data);

// Lowercase hex of `bytes`.
std::string to_hex(const uint8_t* bytes, size_t size);

}  // namespace tams::media
