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
    : flows_(options.flows, {}, counters<boost::json::object>(registry, "flows")),
      sources_(options.sources, {}, counters<boost::json::object>(registry, "sources")),
      segment_pages_(options.segments, options.segment_page_max_age,
                     counters<SegmentPage>(registry, "segment_pages"),
                     LruCache<SegmentPage>::Admission::kSecondMiss) {}

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
