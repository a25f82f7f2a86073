// MediaStore: where media object bytes live. The local store (files under the data dir, served
// by tams itself at signed URLs) is the embedded default; s3/S3MediaStore keeps them in an
// S3-compatible bucket. Only media/ touches object bytes or object-store APIs.
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <optional>
#include <string>
#include <string_view>

namespace tams::obs {
class Counter;
}

namespace tams::media {

// What /service/storage-backends says about a backend (storage-backend.json).
struct StorageBackend {
  std::string id;  // stable UUID
  std::string store_type = "http_object_store";
  std::string provider;
  std::string store_product;
  std::string label;
  std::string region;             // empty: omitted
  std::string availability_zone;  // empty: omitted
  bool default_storage = false;
};

// The store cannot be reached now (all its endpoints are down, or it answered with an error);
// retrying later may succeed. what() is one line for clients: no credentials, no URLs' query.
class StoreUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One storage backend. Implementations are thread-safe.
class MediaStore {
 public:
  virtual ~MediaStore() = default;

  virtual const StorageBackend& backend() const = 0;

  // A URL to upload the object's bytes with HTTP PUT, valid for the configured expiry.
  // `base_url` ("http://host:port") is where this tams instance is reached by the client; stores
  // that sign URLs of another server ignore it. Throws StoreUnavailable when the store cannot
  // take uploads now (no healthy endpoint).
  virtual std::string put_url(const std::string& base_url, const std::string& object_id) const = 0;
  // A presigned URL to download the object's bytes with HTTP GET (or HEAD). Never throws
  // StoreUnavailable: listings stay available while a store is down (decisions.md).
  virtual std::string get_url(const std::string& base_url, const std::string& object_id) const = 0;

  // True when the object's bytes have been uploaded completely. Throws StoreUnavailable when
  // the store cannot tell now.
  virtual bool exists(const std::string& object_id) const = 0;
  // Removes the object's bytes; no error when they are absent. Throws (StoreUnavailable or
  // std::runtime_error) when the store cannot be reached or refuses; the caller keeps the
  // deletion queued and retries it.
  virtual void remove(const std::string& object_id) = 0;

  // Why the store cannot be used now (one line, e.g. "directory ... is missing"), or nullopt
  // when it can. Quick and bounded: GET /health/ready calls it.
  virtual std::optional<std::string> unreachable() const = 0;

 protected:
  enum class SignedMethod { kGet, kPut };
  // Every store calls this once per URL it signs (put_url, get_url), so presigning is counted
  // the same way for every backend: tams_presigned_urls_total{storage_id, method}. Lock-free
  // after the first call per method. Thread-safe.
  void count_signed_url(SignedMethod method) const;

 private:
  mutable std::atomic<obs::Counter*> signed_get_{nullptr};
  mutable std::atomic<obs::Counter*> signed_put_{nullptr};
};

}  // namespace tams::media
