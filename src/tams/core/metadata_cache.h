// MetadataCache: the in-process caches of what nearly every request reads — flow and source
// documents, and the pages of segments that players poll at the live tail of a flow — with the
// invalidation entry points every write path calls after it commits.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <string>

#include "tams/core/lru_cache.h"
#include "tams/obs/metrics.h"
#include "tams/store/change.h"
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
};

// One page of a segment listing as Segments::list returns it.
struct SegmentPage {
  boost::json::array segments;
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

  // The decorated flow document (with `collected_by`), keyed by flow id.
  LruCache<boost::json::object>& flows() { return flows_; }
  // The decorated source document, keyed by source id.
  LruCache<boost::json::object>& sources() { return sources_; }
  // Segment listing pages, grouped by flow id, keyed by the normalised query; a page costs its
  // number of segments (at least 1).
  LruCache<SegmentPage>& segment_pages() { return segment_pages_; }

  // The flow's document changed (properties, tags, segments_updated).
  void invalidate_flow(const std::string& flow_id) { flows_.erase_group(flow_id); }
  // The flow's segments changed (registration, deletion): its pages and its document
  // (segments_updated).
  void invalidate_segments(const std::string& flow_id) {
    segment_pages_.erase_group(flow_id);
    flows_.erase_group(flow_id);
  }
  // The source's document changed.
  void invalidate_source(const std::string& source_id) { sources_.erase_group(source_id); }
  // Collections changed, or flows moved between sources: computed properties of other flows
  // and sources (collected_by, source_collection) may have changed too.
  void invalidate_all_documents() {
    flows_.clear();
    sources_.clear();
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

 private:
  LruCache<boost::json::object> flows_;
  LruCache<boost::json::object> sources_;
  LruCache<SegmentPage> segment_pages_;
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
