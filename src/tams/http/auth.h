// Authentication of API requests: HTTP basic, static bearer tokens (header or ?access_token=).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tams/config/config.h"
#include "tams/core/principal.h"

namespace tams::http {

// Checks credentials against the configured users and tokens. Secrets are held only as SHA-256
// digests and compared in constant time; nothing secret is ever logged. Immutable after
// construction; safe for concurrent use.
class Authenticator {
 public:
  Authenticator(const std::vector<config::BasicUser>& users,
                const std::vector<std::string>& tokens);

  // The principal for an Authorization header value ("Basic ..." or "Bearer ...") or, when the
  // header is empty, an access_token query value. nullopt when the credentials are missing or
  // wrong.
  std::optional<core::Principal> authenticate(std::string_view authorization,
                                              std::optional<std::string_view> access_token) const;

  // The WWW-Authenticate challenges a 401 carries.
  static std::vector<std::string> challenges();

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Credential {
    Digest digest;
    std::string principal;
  };
  std::optional<core::Principal> check_token(std::string_view token) const;
  std::optional<core::Principal> check_basic(std::string_view encoded) const;

  std::vector<Credential> users_;   // digest of "user:password"
  std::vector<Credential> tokens_;  // digest of the token
};

}  // namespace tams::http
