// Authentication of API requests: HTTP basic, static bearer tokens and JWT bearer tokens, in the
// Authorization header or as ?access_token=.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tams/config/config.h"
#include "tams/core/principal.h"
#include "tams/http/jwt.h"

namespace tams::http {

// The four scopes, for credentials that are given all of them.
std::vector<std::string> all_scopes();

struct AuthOptions {
  std::vector<config::BasicUser> users;
  std::vector<std::string> tokens;
  // The scopes of basic users and static tokens.
  std::vector<std::string> static_scopes = all_scopes();
  // When set, bearer tokens that look like JWTs are verified by it (and only by it); other
  // bearer tokens are looked up among the static tokens.
  std::shared_ptr<const jwt::Verifier> jwt;
};

// The outcome of authenticate().
struct AuthResult {
  std::optional<core::Principal> principal;  // nullopt: missing or wrong credentials
  bool bad_bearer = false;                   // a bearer token was sent and refused (RFC 6750)
};

// Checks credentials against the configured users, tokens and JWT verifier. Static secrets are
// held only as SHA-256 digests and compared in constant time; no credential is ever logged (a
// refused JWT logs its reason at debug level). Immutable after construction; safe for
// concurrent use.
class Authenticator {
 public:
  explicit Authenticator(AuthOptions options);
  // Basic users and static tokens with all scopes, no JWTs.
  Authenticator(const std::vector<config::BasicUser>& users,
                const std::vector<std::string>& tokens);

  // The principal for an Authorization header value ("Basic ..." or "Bearer ...") or, when the
  // header is empty, an access_token query value.
  AuthResult authenticate(std::string_view authorization,
                          std::optional<std::string_view> access_token) const;

  // The WWW-Authenticate challenges a 401 carries; with `bad_bearer`, the Bearer challenge says
  // error="invalid_token".
  static std::vector<std::string> challenges(bool bad_bearer = false);

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Credential {
    Digest digest;
    std::string principal;
  };
  std::optional<core::Principal> check_bearer(std::string_view token) const;
  std::optional<core::Principal> check_token(std::string_view token) const;
  std::optional<core::Principal> check_basic(std::string_view encoded) const;

  std::vector<Credential> users_;   // digest of "user:password"
  std::vector<Credential> tokens_;  // digest of the token
  std::vector<std::string> static_scopes_;
  std::shared_ptr<const jwt::Verifier> jwt_;
};

}  // namespace tams::http
