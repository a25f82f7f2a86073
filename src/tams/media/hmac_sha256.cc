#include "tams/media/hmac_sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace tams::media {

namespace {

// Fetched once: an implicit fetch (EVP_sha256()) on every digest would take OpenSSL's global
// store lock each time, which costs more than the hashing of a short message.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!md) throw std::runtime_error("OpenSSL: SHA-256 is not available");
  return md;
}

// One context per thread, reused for every digest the thread computes.
EVP_MD_CTX* thread_ctx() {
  struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Holder holder;
  if (!holder.ctx) throw std::runtime_error("OpenSSL: cannot allocate a digest context");
  return holder.ctx;
}

[[noreturn]] void fail() { throw std::runtime_error("OpenSSL: HMAC-SHA256 failed"); }

}  // namespace

// HMAC (RFC 2104) over SHA-256 with the states after absorbing key^ipad and key^opad kept:
// each MAC copies them instead of rehashing the padded key.
struct HmacSha256::State {
  EVP_MD_CTX* inner = EVP_MD_CTX_new();
  EVP_MD_CTX* outer = EVP_MD_CTX_new();

  ~State() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
  }
};

HmacSha256::HmacSha256(std::string_view key) : state_(std::make_unique<State>()) {
  constexpr size_t kBlock = 64;
  unsigned char block[kBlock] = {0};
  if (key.size() > kBlock) {
    unsigned int n = 0;
    if (EVP_Digest(key.data(), key.size(), block, &n, sha256_md(), nullptr) != 1) fail();
  } else {
    std::copy(key.begin(), key.end(), block);
  }
  unsigned char ipad[kBlock], opad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  if (!state_->inner || !state_->outer ||
      EVP_DigestInit_ex2(state_->inner, sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(state_->inner, ipad, kBlock) != 1 ||
      EVP_DigestInit_ex2(state_->outer, sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(state_->outer, opad, kBlock) != 1) {
    throw std::runtime_error("OpenSSL: cannot set up HMAC-SHA256");
  }
}

HmacSha256::~HmacSha256() = default;

HmacSha256::Digest HmacSha256::mac(std::string_view message) const {
  Digest out{};
  unsigned char inner[32];
  unsigned int n = 0;
  EVP_MD_CTX* c = thread_ctx();
  if (EVP_MD_CTX_copy_ex(c, state_->inner) != 1 ||
      EVP_DigestUpdate(c, message.data(), message.size()) != 1 ||
      EVP_DigestFinal_ex(c, inner, &n) != 1 || EVP_MD_CTX_copy_ex(c, state_->outer) != 1 ||
      EVP_DigestUpdate(c, inner, sizeof inner) != 1 || EVP_DigestFinal_ex(c, out.data(), &n) != 1) {
    fail();
  }
  return out;
}

std::string HmacSha256::hex(std::string_view message) const {
  const Digest d = mac(message);
  return to_hex(d.data(), d.size());
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_MD_CTX* c = thread_ctx();
  if (EVP_DigestInit_ex2(c, sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(c, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(c, digest, &length) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  }
  return to_hex(digest, length);
}

std::string to_hex(const uint8_t* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
  }
  return out;
}

}  // namespace tams::media
