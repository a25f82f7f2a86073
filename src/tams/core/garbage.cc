#include "tams/core/garbage.h"

#include <spdlog/spdlog.h>

namespace tams::core {

namespace {
bool is_garbage(const store::ObjectRecord& o, int64_t now) {
  if (o.ever_referenced) return o.reference_count == 0;
  return o.expires_at > 0 && o.expires_at < now;
}
}  // namespace

int64_t GarbageCollector::collect(int64_t now, int64_t limit) {
  std::vector<store::ObjectRecord> candidates;
  store_.read([&](store::Reader& r) { candidates = r.garbage_objects(now, limit); });
  int64_t removed = 0;
  for (const auto& candidate : candidates) {
    bool deleted = false;
    store_.write([&](store::WriteTransaction& tx) {
      auto current = tx.get_object(candidate.id);
      if (!current || !is_garbage(*current, now)) return;
      tx.delete_object(candidate.id);
      deleted = true;
    });
    if (!deleted) continue;
    ++removed;
    if (candidate.storage_id.empty()) continue;  // external: not ours to delete
    if (auto* store = backends_.find(candidate.storage_id)) {
      try {
        store->remove(candidate.id);
      } catch (const std::exception& e) {
        spdlog::warn("garbage collection: could not remove the bytes of object {}: {}",
                     candidate.id, e.what());
      }
    }
  }
  return removed;
}

}  // namespace tams::core
