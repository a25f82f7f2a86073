// Garbage collection of media objects: allocations never registered before their expiry, and
// objects no segment references any more.
#pragma once

#include <cstdint>

#include "tams/media/backends.h"
#include "tams/store/metadata_store.h"

namespace tams::core {

// Thread-safe; meant to be called periodically by one background thread per instance.
class GarbageCollector {
 public:
  GarbageCollector(store::MetadataStore& store, const media::Backends& backends)
      : store_(store), backends_(backends) {}

  // Removes up to `limit` garbage objects as of unix time `now`: each object's row is deleted
  // in a transaction that re-checks it is still garbage (a segment registered meanwhile saves
  // it), then its bytes are removed from its backend. Returns the number removed. A crash
  // between the two steps can leave unreferenced bytes behind, never a segment without bytes.
  int64_t collect(int64_t now, int64_t limit = 1000);

 private:
  store::MetadataStore& store_;
  const media::Backends& backends_;
};

}  // namespace tams::core
