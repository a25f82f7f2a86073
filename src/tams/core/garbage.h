// Garbage collection of media objects: allocations never registered before their expiry, and
// objects no segment references any more.
#pragma once

#include <cstdint>

#include "tams/core/job_lease.h"
#include "tams/media/backends.h"
#include "tams/store/metadata_store.h"

namespace tams::core {

// Thread-safe; meant to be called periodically by one background thread per instance, by any
// number of instances sharing the store.
class GarbageCollector {
 public:
  // Media deletions are claimed under `lease` (an empty owner gets a new one).
  GarbageCollector(store::MetadataStore& store, const media::Backends& backends, JobLease lease);

  // Removes up to `limit` garbage objects as of unix time `now`, then deletes the bytes of
  // collected objects. The rows go first, in one transaction that judges them garbage (a
  // segment registered before it commits saves its object) and queues their bytes durably; then
  // the queued deletions are claimed under the lease (those of every instance, including ones a
  // crash interrupted), the bytes removed from their backend and the entries dropped. A crash
  // at any point leaves neither a segment without bytes nor bytes nobody will delete. Returns
  // the number of rows removed.
  int64_t collect(int64_t now, int64_t limit = 1000);

 private:
  // Deletes the bytes of claimed media deletions until none is left to claim.
  void delete_queued_bytes();

  store::MetadataStore& store_;
  const media::Backends& backends_;
  JobLease lease_;
};

}  // namespace tams::core
