#include "tams/core/get_urls.h"

#include <algorithm>

namespace tams::core {

namespace bj = boost::json;

namespace {

bool listed(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Whether a URL with these properties survives the filter (decided before any signing).
bool keep(const GetUrlsFilter& f, std::string_view label, std::string_view storage_id,
          bool presigned) {
  if (f.accept_get_urls && (label.empty() || !listed(*f.accept_get_urls, label))) return false;
  if (f.accept_storage_ids && !f.accept_storage_ids->empty() &&
      (storage_id.empty() || !listed(*f.accept_storage_ids, storage_id))) {
    return false;
  }
  if (f.presigned && *f.presigned != presigned) return false;
  return true;
}

void add_backend_metadata(bj::object& url, const media::StorageBackend& b) {
  url["storage_id"] = b.id;
  url["controlled"] = true;
  url["store_type"] = b.store_type;
  url["provider"] = b.provider;
  url["store_product"] = b.store_product;
  if (!b.region.empty()) url["region"] = b.region;
  if (!b.availability_zone.empty()) url["availability_zone"] = b.availability_zone;
}

}  // namespace

bj::array build_get_urls(const store::SegmentRecord& segment, const media::Backends& backends,
                         const GetUrlsFilter& filter, const std::string& base_url) {
  bj::array urls;
  if (filter.accept_get_urls && filter.accept_get_urls->empty()) return urls;

  if (!segment.storage_id.empty()) {
    if (const media::MediaStore* store = backends.find(segment.storage_id)) {
      const media::StorageBackend& b = store->backend();
      if (keep(filter, b.label, b.id, true)) {
        bj::object url;
        url["url"] = store->get_url(base_url, segment.object_id);
        url["presigned"] = true;
        if (!b.label.empty()) url["label"] = b.label;
        if (filter.verbose_storage) add_backend_metadata(url, b);
        urls.push_back(std::move(url));
      }
    }
  }
  if (const auto* client = segment.doc.if_contains("get_urls"); client && client->is_array()) {
    for (const auto& item : client->as_array()) {
      const auto& o = item.as_object();
      const auto* label = o.if_contains("label");
      const std::string_view label_text =
          label && label->is_string() ? std::string_view(label->as_string()) : std::string_view();
      if (!keep(filter, label_text, {}, false)) continue;
      bj::object url;
      url["url"] = o.at("url");
      url["presigned"] = false;
      if (!label_text.empty()) url["label"] = label_text;
      if (filter.verbose_storage) url["controlled"] = false;
      urls.push_back(std::move(url));
    }
  }
  return urls;
}

}  // namespace tams::core
