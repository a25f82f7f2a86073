// JSON Web Token bearer credentials (RFC 7519, RFC 9068 style access tokens): HS256 with a
// shared secret, RS256 and ES256 with public keys from a JWKS.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tams/core/principal.h"
#include "tams/http/jwks.h"
#include "tams/model/base64url.h"

namespace tams::http::jwt {

// JWS parts are base64url (RFC 7515 §2); the codec lives in model/.
using model::base64url_decode;
using model::base64url_encode;

// Three non-empty dot-separated parts (JWS compact serialisation), as opposed to an opaque token.
bool looks_like_jwt(std::string_view token);

struct VerifierOptions {
  std::string hs256_secret;           // empty: HS256 tokens are refused
  std::shared_ptr<KeyProvider> keys;  // null: RS256 and ES256 tokens are refused
  std::string issuer;                 // when set, `iss` must equal it
  std::string audience;               // when set, `aud` must be it or an array containing it
  int64_t clock_skew_seconds = 60;    // leeway for `exp` and `nbf`
};

// The outcome of verifying a token: a principal, or the reason it was refused (safe to log: it
// never contains the token or key material).
struct Verification {
  std::optional<core::Principal> principal;
  std::string reason;
};

// Verifies compact JWS tokens. alg must be HS256 (when a secret is configured) or RS256/ES256
// (when keys are); "none" and every other alg are refused, and the key's type must match the
// alg. `exp` is required; `nbf`, `iss` and `aud` are checked as configured. The principal's
// name is `sub` (else `client_id`, else "jwt"); its scopes come from `scope` (space-separated)
// and `scp` (array or space-separated string). Thread-safe.
class Verifier {
 public:
  explicit Verifier(VerifierOptions options);

  // `now` is seconds since the Unix epoch.
  Verification verify(std::string_view token, int64_t now) const;

 private:
  VerifierOptions options_;
};

// The scopes in a space-separated list, without empties or duplicates.
std::vector<std::string> split_scopes(std::string_view text);

}  // namespace tams::http::jwt
