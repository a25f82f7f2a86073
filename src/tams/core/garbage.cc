#include "tams/core/garbage.h"

#include <spdlog/spdlog.h>

namespace tams::core {

namespace {
constexpr int64_t kBytesPerClaim = 100;  // media deletions claimed per transaction
}  // namespace

GarbageCollector::GarbageCollector(store::MetadataStore& store, const media::Backends& backends,
                                   JobLease lease)
    : store_(store), backends_(backends), lease_(std::move(lease)) {
  if (lease_.owner.empty()) lease_.owner = new_lease_owner();
}

int64_t GarbageCollector::collect(int64_t now, int64_t limit) {
  int64_t removed = 0;
  store_.write([&](store::WriteTransaction& tx) {
    removed = static_cast<int64_t>(tx.take_garbage_objects(now, limit).size());
  });
  delete_queued_bytes();
  return removed;
}

void GarbageCollector::delete_queued_bytes() {
  for (;;) {
    std::vector<store::MediaDeletionRecord> claimed;
    store_.write([&](store::WriteTransaction& tx) {
      claimed = tx.claim_media_deletions(lease_.claim(kBytesPerClaim));
    });
    if (claimed.empty()) return;
    for (const auto& deletion : claimed) {
      auto* store = backends_.find(deletion.storage_id);
      if (store == nullptr) {
        // A backend no longer configured: nothing here can delete the bytes.
        spdlog::warn("garbage collection: object {} was in storage backend {}, which is not "
                     "configured; its bytes are left there",
                     deletion.object_id, deletion.storage_id);
      } else {
        try {
          store->remove(deletion.object_id);
        } catch (const std::exception& e) {
          // Kept in the queue under the lease: retried (here or elsewhere) once it ends.
          spdlog::warn("garbage collection: could not remove the bytes of object {} (will retry): {}",
                       deletion.object_id, e.what());
          continue;
        }
      }
      store_.write(
          [&](store::WriteTransaction& tx) { tx.delete_media_deletion(deletion.object_id); });
    }
  }
}

}  // namespace tams::core
