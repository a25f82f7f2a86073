// Segments: registering media objects on a flow's timeline and finding them again.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tams/core/get_urls.h"
#include "tams/core/metadata_cache.h"
#include "tams/core/principal.h"
#include "tams/media/backends.h"
#include "tams/model/paging.h"
#include "tams/store/metadata_store.h"
#include "tams/time/timerange.h"

namespace tams::core {

struct SegmentOptions {
  // Refuse to register a segment for an object allocated in one of our backends whose bytes
  // were never uploaded (the lesson of other stores: a registered segment must be readable).
  bool check_uploads = true;
};

// Whether an allocated object's bytes were uploaded (defined in segments.cc).
struct UploadCheck;

// TAMS semantics of /flows/{id}/segments (POST and GET). Thread-safe.
class Segments {
 public:
  // `cache` (optional, outliving this) keeps listing pages; registration invalidates it.
  Segments(store::MetadataStore& store, const media::Backends& backends, SegmentOptions options,
           MetadataCache* cache = nullptr)
      : store_(store), backends_(backends), options_(options), cache_(cache) {}

  // One segment that could not be registered (flow-segment-bulk-failure.json item).
  struct Failure {
    std::string object_id;
    std::string timerange;  // as given, empty when missing
    std::string summary;
  };
  // Registers one segment (a JSON object) or many (an array), in one transaction. An array is
  // processed to its end whatever fails; the failures are returned. A single object that fails
  // throws kBadRequest instead (nothing written). Whole-request problems (flow missing: kNotFound;
  // read-only: kReadOnly; no container: kBadRequest) throw.
  std::vector<Failure> add(const std::string& flow_id, const boost::json::value& body);

  struct ListQuery {
    time::TimeRange timerange = time::TimeRange::eternity();
    std::optional<std::string> object_id;
    bool reverse_order = false;
    GetUrlsFilter get_urls;
    model::PageRequest page;  // `after`: position from a previous page's cursor
  };
  using ListResult = SegmentPage;
  // A page of the flow's segments overlapping the query range. A well-formed id of a flow that
  // does not exist gives an empty list (spec); a malformed one is kNotFound. O(log n + page).
  // Shared: the page may come from the cache (at most segment_page_max_age old).
  std::shared_ptr<const ListResult> list(const std::string& flow_id, const ListQuery& query,
                                         const std::string& base_url);

 private:
  // For each object of `body` allocated in one of our backends and not yet registered: whether
  // its bytes were uploaded (asked before the write transaction, several at a time).
  std::map<std::string, UploadCheck> check_uploads(const boost::json::value& body) const;
  // One page read from the store, with its get_urls signed now.
  std::shared_ptr<ListResult> load_page(const std::string& flow_id, const ListQuery& query,
                                        const std::string& base_url);

  store::MetadataStore& store_;
  const media::Backends& backends_;
  SegmentOptions options_;
  MetadataCache* cache_;
};

}  // namespace tams::core
