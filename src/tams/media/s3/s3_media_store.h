// S3MediaStore: media object bytes in a bucket of an S3-compatible store (AWS S3, Ceph RGW,
// MinIO, ...). Clients upload and download directly at SigV4 presigned URLs that tams computes
// in-process; tams itself only sends HEAD (upload check), DELETE (garbage collection) and the
// health probes (HEAD of the bucket).
//
// The object key is the object id as it is (any bytes; URI-encoded in URLs, '/' kept).
// Presigned URLs go to the healthy endpoints in rotation; with none healthy, put_url throws
// StoreUnavailable (an allocation answers 503) while get_url still signs for some endpoint (a
// listing never fails because a store is down). A DELETE that cannot be done now throws
// StoreUnavailable; the garbage collector keeps the deletion in its durable queue (the store's
// media_deletions) and retries it, from any instance, until it succeeds.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tams/media/media_store.h"
#include "tams/media/s3/client.h"
#include "tams/media/s3/endpoints.h"
#include "tams/media/s3/sigv4.h"

namespace tams::media::s3 {

struct S3Options {
  StorageBackend backend;               // what /service/storage-backends says
  std::vector<std::string> endpoints;   // http(s)://host[:port][/prefix], at least one
  std::string bucket;
  bool path_style = true;               // host/bucket/key; false: bucket.host/key
  Credentials credentials;              // never logged
  int64_t url_expiry_seconds = 3600;    // lifetime of presigned URLs (at most 7 days)
  std::chrono::milliseconds timeout{5000};          // of each server-side request
  std::chrono::milliseconds health_interval{5000};  // between probes of every endpoint
};

// Thread-safe.
class S3MediaStore : public MediaStore {
 public:
  // Parses the endpoints (std::invalid_argument naming the bad one), probes every endpoint once
  // and starts the background thread that probes them again every health_interval.
  static std::unique_ptr<S3MediaStore> open(S3Options options);
  ~S3MediaStore() override;

  const StorageBackend& backend() const override { return options_.backend; }
  std::string put_url(const std::string& base_url, const std::string& object_id) const override;
  std::string get_url(const std::string& base_url, const std::string& object_id) const override;
  // No endpoint is answering (the health checks' verdict; no request is sent).
  std::optional<std::string> unreachable() const override;
  // HEAD of the object: 200 true, 404 false; otherwise StoreUnavailable.
  bool exists(const std::string& object_id) const override;
  // DELETE of the object (404 is success); StoreUnavailable when the store cannot do it now.
  void remove(const std::string& object_id) override;

  // A presigned URL for `method` on endpoint `endpoint` at unix time `now` (for the benchmark
  // and tests; counts as a signed URL).
  std::string presigned_url(std::string_view method, size_t endpoint, const std::string& object_id,
                            int64_t now) const;
  const EndpointSet& endpoints() const { return endpoints_; }
  // Probes every endpoint now (what the thread does each interval).
  void check_now();

  S3MediaStore(const S3MediaStore&) = delete;
  S3MediaStore& operator=(const S3MediaStore&) = delete;

 private:
  S3MediaStore(S3Options options, std::vector<Endpoint> endpoints);
  // Host header and decoded path of `key` (empty: the bucket itself) on endpoint i.
  std::pair<std::string, std::string> locate(size_t i, std::string_view key) const;
  // Sends the request to healthy endpoints in turn until one answers; marks those that do not.
  Reply send(std::string_view method, std::string_view key) const;
  void run();

  S3Options options_;
  std::string name_;  // "storage backend <label> (<id>)" for logs and errors
  Signer signer_;
  EndpointSet endpoints_;
  Client client_;

  mutable std::mutex mutex_;  // guards stop_ and last_refusal_
  std::condition_variable wake_;
  bool stop_ = false;
  long last_refusal_ = 0;  // the last 403/404 a probe logged
  std::thread thread_;
};

}  // namespace tams::media::s3
