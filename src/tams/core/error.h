// Typed errors of TAMS semantics. core/ throws them; only http/ turns them into status codes.
#pragma once

#include <stdexcept>
#include <string>

namespace tams::core {

enum class ErrorKind {
  kBadRequest,        // malformed or invalid input (400)
  kUnauthorized,      // no or bad credentials (401)
  kForbidden,         // authenticated but not allowed (403)
  kReadOnly,          // the flow is read-only (403)
  kNotFound,          // the resource does not exist (404)
  kMethodNotAllowed,  // the path exists but not with this method (405)
  kConflict,          // the write conflicts with stored state (409)
  kPayloadTooLarge,   // request body above the configured limit (413)
  kUnavailable,       // a dependency is down; retry later (503)
  kInternal,          // a bug or an unexpected failure (500)
};

// An error with its kind and a one-line summary for the client (never containing secrets).
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string summary) : std::runtime_error(std::move(summary)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  const char* summary() const { return what(); }

 private:
  ErrorKind kind_;
};

// Shorthands for the common kinds.
[[noreturn]] inline void bad_request(std::string summary) {
  throw Error(ErrorKind::kBadRequest, std::move(summary));
}
[[noreturn]] inline void not_found(std::string summary) {
  throw Error(ErrorKind::kNotFound, std::move(summary));
}
[[noreturn]] inline void read_only(std::string summary) {
  throw Error(ErrorKind::kReadOnly, std::move(summary));
}

}  // namespace tams::core
