#include "tams/core/metadata_cache.h"

namespace tams::core {

namespace {

template <class V>
typename LruCache<V>::Counters counters(obs::Registry& registry, const char* cache) {
  auto& hits =
      registry.counter("tams_cache_hits_total", "Cache lookups answered from memory.", {"cache"});
  auto& misses = registry.counter("tams_cache_misses_total",
                                  "Cache lookups that went to the database.", {"cache"});
  auto& evictions =
      registry.counter("tams_cache_evictions_total",
                       "Cache entries dropped to stay within the size bound.", {"cache"});
  auto& entries = registry.gauge("tams_cache_entries", "Entries held by a cache.", {"cache"});
  return {&hits.with({cache}), &misses.with({cache}), &evictions.with({cache}),
          &entries.with({cache})};
}

}  // namespace

MetadataCache::MetadataCache(MetadataCacheOptions options, obs::Registry& registry)
    : flows_(options.flows, {}, counters<std::string>(registry, "flows")),
      sources_(options.sources, {}, counters<std::string>(registry, "sources")),
      segment_pages_(options.segments, options.segment_page_max_age,
                     counters<SegmentPage>(registry, "segment_pages"),
                     LruCache<SegmentPage>::Admission::kSecondMiss),
      fresh_window_(options.fill_from_primary_after_change) {}

namespace {
int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void MetadataCache::changed(std::string_view group) {
  if (fresh_window_.count() <= 0) return;
  const int64_t now = steady_ms();
  const int64_t until = now + fresh_window_.count();
  std::lock_guard lock(changed_mutex_);
  if (changed_until_ms_.size() >= kMaxChangedGroups) {
    std::erase_if(changed_until_ms_, [now](const auto& entry) { return entry.second <= now; });
  }
  if (group.empty() || changed_until_ms_.size() >= kMaxChangedGroups) {
    all_changed_until_ms_ = until;
    changed_until_ms_.clear();  // covered by the window of everything
    return;
  }
  changed_until_ms_[std::string(group)] = until;
}

bool MetadataCache::changed_recently(std::string_view group) {
  if (fresh_window_.count() <= 0) return false;
  const int64_t now = steady_ms();
  std::lock_guard lock(changed_mutex_);
  if (now < all_changed_until_ms_) return true;
  const auto found = changed_until_ms_.find(std::string(group));
  return found != changed_until_ms_.end() && now < found->second;
}

void MetadataCache::invalidate(const store::Change& change) {
  using Kind = store::Change::Kind;
  switch (change.kind) {
    case Kind::kSegments:
      invalidate_segments(change.id);
      return;
    case Kind::kSource:
      invalidate_source(change.id);
      return;
    case Kind::kFlowDeleted:
      invalidate_deleted_flow(change.id);
      return;
    case Kind::kDocuments:
      invalidate_all_documents();
      return;
    case Kind::kEverything:
      break;
  }
  invalidate_everything();
}

}  // namespace tams::core
