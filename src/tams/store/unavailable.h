// store::Unavailable: the metadata database cannot serve the call right now (its server is down
// or unreachable). Callers may retry later; http/ answers 503 with Retry-After.
#pragma once

#include <stdexcept>

namespace tams::store {

// Thrown by MetadataStore::read() / write() when no database endpoint able to run the call
// answers. Nothing was written by a write() that throws it before its commit was sent; when the
// connection broke during COMMIT the outcome is unknown (as with any lost connection). The
// message names the endpoint without credentials.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tams::store
