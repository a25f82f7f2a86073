#include "tams/http/auth.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <chrono>

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
  if (in.ends_with("=="))
    len -= 2;
  else if (in.ends_with("="))
    len -= 1;
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

std::vector<std::string> all_scopes() {
  return {std::string(core::kScopeRead), std::string(core::kScopeWrite),
          std::string(core::kScopeDelete), std::string(core::kScopeAdmin)};
}

Authenticator::Authenticator(AuthOptions options)
    : static_scopes_(std::move(options.static_scopes)), jwt_(std::move(options.jwt)) {
  for (const auto& u : options.users) {
    users_.push_back({sha256(u.name + ":" + u.password), u.name});
  }
  for (const auto& t : options.tokens) {
    const auto d = sha256(t);
    tokens_.push_back({d, token_principal(d)});
  }
}

Authenticator::Authenticator(const std::vector<config::BasicUser>& users,
                             const std::vector<std::string>& tokens)
    : Authenticator(AuthOptions{users, tokens, all_scopes(), nullptr}) {}

std::optional<core::Principal> Authenticator::check_bearer(std::string_view token) const {
  if (jwt_ && jwt::looks_like_jwt(token)) {
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    auto result = jwt_->verify(token, now);
    if (!result.principal) spdlog::debug("bearer JWT refused: {}", result.reason);
    return std::move(result.principal);
  }
  return check_token(token);
}

std::optional<core::Principal> Authenticator::check_token(std::string_view token) const {
  const auto d = sha256(token);
  const Credential* found = nullptr;
  // Compare against every token so the time taken does not depend on which one matched.
  for (const auto& c : tokens_) {
    if (CRYPTO_memcmp(c.digest.data(), d.data(), d.size()) == 0) found = &c;
  }
  if (!found) return std::nullopt;
  return core::Principal{found->principal, static_scopes_};
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
  return core::Principal{found->principal, static_scopes_};
}

AuthResult Authenticator::authenticate(std::string_view authorization,
                                       std::optional<std::string_view> access_token) const {
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  auto bearer = [&](std::string_view token) {
    AuthResult result{check_bearer(token)};
    result.bad_bearer = !result.principal;
    return result;
  };
  if (!authorization.empty()) {
    if (starts_with_ci(authorization, "basic ")) {
      return {check_basic(trim(authorization.substr(6)))};
    }
    if (starts_with_ci(authorization, "bearer ")) return bearer(trim(authorization.substr(7)));
    return {};
  }
  if (access_token && !access_token->empty()) return bearer(*access_token);
  return {};
}

std::vector<std::string> Authenticator::challenges(bool bad_bearer) {
  return {R"(Basic realm="tams", charset="UTF-8")",
          bad_bearer ? R"(Bearer realm="tams", error="invalid_token")" : R"(Bearer realm="tams")"};
}

}  // namespace tams::http
