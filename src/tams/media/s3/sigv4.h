// AWS Signature Version 4 (SigV4), computed in-process: the Authorization header of server-side
// requests and presigned URLs (query-string authentication) for S3-compatible stores.
//
// S3 flavour: the path is URI-encoded once and never normalised (keys may hold "//", "." or
// ".."); every byte other than the RFC 3986 unreserved characters is %XX (uppercase), '/' kept.
// The derived signing key (four chained HMACs) is cached per day: a presign costs two SHA-256
// passes and one HMAC.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tams/media/hmac_sha256.h"

namespace tams::media::s3 {

// SHA-256 of the empty payload, and the payload hash of presigned URLs.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) pass, '/' passes when `keep_slash`,
// every other byte becomes %XX with uppercase hex digits.
std::string uri_encode(std::string_view text, bool keep_slash);

// 20150830T123600Z for a unix time in seconds (UTC).
std::string amz_date(int64_t unix_seconds);

// An access key pair. Never logged.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// What a signature covers.
struct SigningRequest {
  std::string method;                                      // "GET", "PUT", ...
  std::string path;                                        // decoded; starts with '/'
  std::vector<std::pair<std::string, std::string>> query;  // decoded names and values
  std::vector<std::pair<std::string, std::string>> headers;  // any case; must include host
  std::string payload_hash;  // hex SHA-256 of the body, or kUnsignedPayload
};

// The canonical request of SigV4: method, encoded path, sorted encoded query, lowercased
// trimmed headers sorted by name, the signed header list, the payload hash, '\n' between.
std::string canonical_request(const SigningRequest& request);
// "host;x-amz-date": the request's header names, lowercased and sorted, ';' between.
std::string signed_header_names(const SigningRequest& request);

// Signs for one access key, region and service. Thread-safe.
class Signer {
 public:
  Signer(Credentials credentials, std::string region, std::string service = "s3");

  const std::string& region() const { return region_; }
  const std::string& access_key_id() const { return credentials_.access_key_id; }

  // "20150830/us-east-1/s3/aws4_request" for an amz_date.
  std::string scope(std::string_view date_time) const;
  // Hex signature of `canonical` (a canonical request) at `date_time` (an amz_date).
  std::string signature(std::string_view date_time, std::string_view canonical) const;

  // The Authorization header value for `request`, whose headers must include x-amz-date with
  // `date_time` (and host). Throws std::invalid_argument on a malformed date_time.
  std::string authorization(const SigningRequest& request, std::string_view date_time) const;

  // The complete query string (no leading '?') of a presigned URL for `method` on `host`
  // (the Host header value, with a port when not the scheme's default) and `encoded_path`
  // (uri_encode(path, true): the caller puts the same text in the URL), valid for
  // `expires_seconds` from `date_time`: the X-Amz-* parameters in canonical order,
  // X-Amz-Signature last. Only host is signed. Throws std::invalid_argument on a bad date_time.
  std::string presign_query(std::string_view method, std::string_view host,
                            std::string_view encoded_path, std::string_view date_time,
                            int64_t expires_seconds,
                            std::string_view payload_hash = kUnsignedPayload) const;

  // Number of signing-key derivations so far (the cache works when this stays at one a day).
  uint64_t key_derivations() const;

 private:
  // What depends on the day only: the derived key, the scope and the encoded credential.
  struct DayKey {
    std::string date;                // yyyymmdd
    std::string scope;               // date/region/service/aws4_request
    std::string encoded_credential;  // uri_encode(access key id + "/" + scope)
    HmacSha256 key;
    DayKey(std::string d, std::string s, std::string c, std::string_view k)
        : date(std::move(d)), scope(std::move(s)), encoded_credential(std::move(c)), key(k) {}
  };
  // The day's key: a lock-free look at the current one, else derived under the mutex. Keys
  // stay alive as long as the signer (one per day used), so readers never see one freed.
  const DayKey& day_key(std::string_view date) const;
  std::string sign_with(const DayKey& day, std::string_view date_time,
                        std::string_view canonical) const;

  Credentials credentials_;
  std::string region_;
  std::string service_;
  mutable std::atomic<const DayKey*> current_{nullptr};
  mutable std::mutex key_mutex_;
  mutable std::vector<std::unique_ptr<DayKey>> keys_;
};

}  // namespace tams::media::s3
