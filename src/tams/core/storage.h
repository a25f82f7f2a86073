// Storage allocation (POST /flows/{id}/storage) and the list of storage backends.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "tams/media/backends.h"
#include "tams/store/metadata_store.h"

namespace tams::core {

struct StorageOptions {
  int64_t default_limit = 10;               // objects allocated when the body gives no limit
  int64_t max_limit = 1000;                 // larger limits are reduced to this
  int64_t allocation_expiry_seconds = 86400;  // unregistered allocations become garbage after
};

// Thread-safe.
class Storage {
 public:
  Storage(store::MetadataStore& store, const media::Backends& backends, StorageOptions options)
      : store_(store), backends_(backends), options_(options) {}

  // Allocates media objects for the flow and returns flow-storage.json: {media_objects: [
  // {object_id, put_url: {url, content-type}}]}. `body` is nullptr when the request had none. Remembers which
  // flow each object was allocated for. Throws kNotFound (flow), kReadOnly, kBadRequest (invalid
  // body, no container, object_ids that exist, unknown storage_id, no default backend).
  boost::json::object allocate(const std::string& flow_id, const boost::json::value* body,
                               const std::string& base_url);

  // storage-backends-list.json.
  boost::json::array backends() const;

 private:
  store::MetadataStore& store_;
  const media::Backends& backends_;
  StorageOptions options_;
};

}  // namespace tams::core
