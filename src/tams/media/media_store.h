// MediaStore: where media object bytes live. The local store (files under the data dir, served
// by tams itself at signed URLs) is the embedded default; S3-compatible stores come later.
// Only media/ touches object bytes or object-store APIs.
#pragma once

#include <atomic>
#include <cstdint>
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

// One storage backend. Implementations are thread-safe.
class MediaStore {
 public:
  virtual ~MediaStore() = default;

  virtual const StorageBackend& backend() const = 0;

  // A URL to upload the object's bytes with HTTP PUT, valid for the configured expiry.
  // `base_url` ("http://host:port") is where this tams instance is reached by the client; stores
  // that sign URLs of another server ignore it.
  virtual std::string put_url(const std::string& base_url, const std::string& object_id) const = 0;
  // A presigned URL to download the object's bytes with HTTP GET (or HEAD).
  virtual std::string get_url(const std::string& base_url, const std::string& object_id) const = 0;

  // True when the object's bytes have been uploaded completely.
  virtual bool exists(const std::string& object_id) const = 0;
  // Removes the object's bytes; no error when they are absent. Throws std::runtime_error when
  // the store cannot be reached or refuses.
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
