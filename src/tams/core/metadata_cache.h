// MetadataCache: the in-process caches of what nearly every request reads — flow and source
// documents, and the pages of segments that players poll at the live tail of a flow — with the
// invalidation entry points every write path calls after it commits.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tams/core/lru_cache.h"
#include "tams/obs/metrics.h"
#include "tams/store/change.h"
#include "tams/store/read_affinity.h"
#include "tams/time/timerange.h"

namespace tams::core {

struct MetadataCacheOptions {
  size_t flows = 10000;    // flow documents kept (0: no flow cache)
  size_t sources = 10000;  // source documents kept (0: no source cache)
  // Segments held in cached listing pages, all pages together (0: no segment cache). A cached
  // segment takes about 1 KB.
  size_t segments = 20000;
  // A cached segment page carries signed URLs whose expiry was fixed when it was built; it is
  // served for at most this long, so URLs handed out are never more than this much older.
  std::chrono::milliseconds segment_page_max_age{2000};
  // With read replicas: for this long after a flow's or source's entries were invalidated, a
  // value loaded for it is read from the primary. A replica may not have replayed the change yet,
  // and what it answered would stay cached until the next change. Zero: never.
  std::chrono::milliseconds fill_from_primary_after_change{0};
};

// One page of a segment listing as Segments::list returns it.
struct SegmentPage {
  std::string json;  // the response body: a JSON array of the page's segments
  size_t count = 0;  // segments in it
  std::string next;                  // position of the next page, empty on the last
  time::TimeRange paging_timerange;  // extent of the returned segments, "()" when none
};

// Every core write calls the matching invalidate_* after its transaction returns (committed or
// not), so a read after a write through this instance never sees the old value (LruCache
// explains why a concurrent reader cannot put a stale value back). Changes made by other
// instances (a shared PostgreSQL) reach a cache through the same entry points, e.g. from a
// LISTEN/NOTIFY listener. Thread-safe.
class MetadataCache {
 public:
  explicit MetadataCache(MetadataCacheOptions options,
                         obs::Registry& registry = obs::Registry::global());

  // The decorated flow document (with `collected_by`), serialized as a GET sends it, keyed by
  // flow id: a hit is sent without serializing anything.
  LruCache<std::string>& flows() { return flows_; }
  // The decorated source document, serialized, keyed by source id.
  LruCache<std::string>& sources() { return sources_; }
  // Segment listing pages, grouped by flow id, keyed by the normalised query; a page costs its
  // number of segments (at least 1).
  LruCache<SegmentPage>& segment_pages() { return segment_pages_; }

  // The flow's document changed (properties, tags, segments_updated).
  void invalidate_flow(const std::string& flow_id) {
    flows_.erase_group(flow_id);
    changed(flow_id);
  }
  // The flow's segments changed (registration, deletion): its pages and its document
  // (segments_updated).
  void invalidate_segments(const std::string& flow_id) {
    segment_pages_.erase_group(flow_id);
    flows_.erase_group(flow_id);
    changed(flow_id);
  }
  // The source's document changed.
  void invalidate_source(const std::string& source_id) {
    sources_.erase_group(source_id);
    changed(source_id);
  }
  // Collections changed, or flows moved between sources: computed properties of other flows
  // and sources (collected_by, source_collection) may have changed too.
  void invalidate_all_documents() {
    flows_.clear();
    sources_.clear();
    changed({});
  }
  // A flow was deleted: its document, its pages, and everything that may have pointed at it.
  void invalidate_deleted_flow(const std::string& flow_id) {
    segment_pages_.erase_group(flow_id);
    invalidate_all_documents();
  }
  // Anything may have changed: drops everything.
  void invalidate_everything() {
    segment_pages_.clear();
    invalidate_all_documents();
  }
  // Another instance committed `change` (store::MetadataStore::set_change_listener): the same
  // invalidation its own write made there.
  void invalidate(const store::Change& change);

  // Runs `load`, which reads what is to be cached in `cache` under `group` (a flow or source
  // id), so that it reads from the primary when `group` changed within
  // fill_from_primary_after_change (and `cache` keeps what it reads).
  template <class V, class Load>
  auto fill(const LruCache<V>& cache, std::string_view group, Load&& load) {
    std::optional<store::ReadAffinity> primary;
    // Reads without a ReadAffinity key go to the primary.
    if (cache.enabled() && changed_recently(group)) primary.emplace("");
    return load();
  }

 private:
  LruCache<std::string> flows_;
  LruCache<std::string> sources_;
  LruCache<SegmentPage> segment_pages_;

  // Remembers that `group` (empty: every group) changed now.
  void changed(std::string_view group);
  bool changed_recently(std::string_view group);
  // Groups remembered beyond this many make everything count as changed for a window.
  static constexpr size_t kMaxChangedGroups = 4096;
  const std::chrono::milliseconds fresh_window_;
  std::mutex changed_mutex_;
  std::unordered_map<std::string, int64_t> changed_until_ms_;  // steady ms; changed_mutex_
  int64_t all_changed_until_ms_ = 0;                           // changed_mutex_
};

// Runs `invalidate` when the scope ends, whether the write committed or threw: a rolled-back
// write invalidates needlessly but harmlessly.
template <class F>
class AfterWrite {
 public:
  explicit AfterWrite(F invalidate) : invalidate_(std::move(invalidate)) {}
  ~AfterWrite() { invalidate_(); }
  AfterWrite(const AfterWrite&) = delete;
  AfterWrite& operator=(const AfterWrite&) = delete;

 private:
  F invalidate_;
};

}  // namespace tams::core
