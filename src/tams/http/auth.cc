#include "tams/http/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <fmt/format.h>

namespace tams::http {

namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > 4096) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  if (in.ends_with("==")) len -= 2;
  else if (in.ends_with("=")) len -= 1;
  out.resize(len);
  return out;
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

std::string token_principal(const std::array<unsigned char, 32>& digest) {
  // A stable name that identifies the token without revealing it.
  return fmt::format("token-{:02x}{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2], digest[3]);
}

}  // namespace

Authenticator::Authenticator(const std::vector<config::BasicUser>& users,
                             const std::vector<std::string>& tokens) {
  for (const auto& u : users) users_.push_back({sha256(u.name + ":" + u.password), u.name});
  for (const auto& t : tokens) {
    const auto d = sha256(t);
    tokens_.push_back({d, token_principal(d)});
  }
}

std::optional<core::Principal> Authenticator::check_token(std::string_view token) const {
  const auto d = sha256(token);
  const Credential* found = nullptr;
  // Compare against every token so the time taken does not depend on which one matched.
  for (const auto& c : tokens_) {
    if (CRYPTO_memcmp(c.digest.data(), d.data(), d.size()) == 0) found = &c;
  }
  if (!found) return std::nullopt;
  return core::Principal{found->principal};
}

std::optional<core::Principal> Authenticator::check_basic(std::string_view encoded) const {
  auto decoded = base64_decode(encoded);
  if (!decoded || decoded->find(':') == std::string::npos) return std::nullopt;
  const auto d = sha256(*decoded);
  const Credential* found = nullptr;
  for (const auto& c : users_) {
    if (CRYPTO_memcmp(c.digest.data(), d.data(), d.size()) == 0) found = &c;
  }
  OPENSSL_cleanse(decoded->data(), decoded->size());
  if (!found) return std::nullopt;
  return core::Principal{found->principal};
}

std::optional<core::Principal> Authenticator::authenticate(
    std::string_view authorization, std::optional<std::string_view> access_token) const {
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  if (!authorization.empty()) {
    if (starts_with_ci(authorization, "basic ")) return check_basic(trim(authorization.substr(6)));
    if (starts_with_ci(authorization, "bearer ")) return check_token(trim(authorization.substr(7)));
    return std::nullopt;
  }
  if (access_token && !access_token->empty()) return check_token(*access_token);
  return std::nullopt;
}

std::vector<std::string> Authenticator::challenges() {
  return {R"(Basic realm="tams", charset="UTF-8")", R"(Bearer realm="tams")"};
}

}  // namespace tams::http
