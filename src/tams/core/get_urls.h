// The get_urls of a segment as a GET returns them: controlled URLs from the storage backend
// holding the object, then the client's own uncontrolled URLs, filtered and shaped as asked.
#pragma once

#include <boost/json/array.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tams/media/backends.h"
#include "tams/store/metadata_store.h"

namespace tams::core {

// The get_urls query parameters of 7.0 (segments GET and webhook registrations). All set
// filters AND together.
struct GetUrlsFilter {
  // Keep URLs whose label is listed. nullopt: no label filter; an empty list: no URLs at all.
  std::optional<std::vector<std::string>> accept_get_urls;
  // Keep URLs whose storage_id is listed. nullopt or empty: no filter (decisions.md).
  std::optional<std::vector<std::string>> accept_storage_ids;
  // Keep only presigned (true) or only not presigned (false) URLs. nullopt: both.
  std::optional<bool> presigned;
  // Also emit storage_id, controlled and the backend's metadata.
  bool verbose_storage = false;
};

// Builds the get_urls array for `segment`. URLs the filter drops are never signed, so a filter
// that excludes presigned URLs costs no signing at all. `base_url` is where the client reaches
// this instance (for stores served by tams itself). Thread-safe.
boost::json::array build_get_urls(const store::SegmentRecord& segment,
                                  const media::Backends& backends, const GetUrlsFilter& filter,
                                  const std::string& base_url);

}  // namespace tams::core
