// The server-side S3 requests tams makes itself (HEAD and DELETE of objects, HEAD of the bucket
// as a health probe), over libcurl, signed with the SigV4 Authorization header.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "tams/media/s3/endpoints.h"
#include "tams/media/s3/sigv4.h"

namespace tams::media::s3 {

// What came back: an HTTP status, or status 0 and a transport error (connect refused, timeout).
struct Reply {
  long status = 0;
  std::string error;
  bool reached() const { return status != 0; }
};

// Thread-safe (one curl handle per request).
class Client {
 public:
  Client(const Signer& signer, std::chrono::milliseconds timeout)
      : signer_(signer), timeout_(timeout) {}

  // Sends a body-less `method` request for `path` (decoded; sent URI-encoded and never
  // normalised) to `host` (the endpoint's authority, or bucket.authority for virtual-hosted
  // buckets) with the endpoint's scheme. No redirects, no proxy from the environment.
  Reply send(std::string_view method, const Endpoint& endpoint, std::string_view host,
             std::string_view path) const;

 private:
  const Signer& signer_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tams::media::s3
