#include "tams/core/storage.h"

#include <ctime>
#include <set>

#include "tams/core/error.h"
#include "tams/core/flow_document.h"
#include "tams/core/ids.h"
#include "tams/json/schema.h"

namespace tams::core {

namespace bj = boost::json;

bj::object Storage::allocate(const std::string& flow_id, const bj::value* body,
                             const std::string& base_url) {
  if (!is_valid_id(flow_id)) not_found("\"" + flow_id + "\" is not a valid flow id");
  const bj::value request = body ? *body : bj::value(bj::object());
  if (auto problem = json::SchemaSet::spec().validate("flow-storage-post.json", request)) {
    bad_request("storage request: " + *problem);
  }
  const bj::object& req = request.as_object();

  const media::MediaStore* target = nullptr;
  if (const auto* sid = req.if_contains("storage_id")) {
    target = backends_.find(sid->as_string());
    if (!target) bad_request("storage_id: no storage backend " + std::string(sid->as_string()));
  } else {
    target = backends_.default_store();
    if (!target) bad_request("storage_id: required, as this store has no default backend");
  }

  std::vector<std::string> ids;
  if (const auto* given = req.if_contains("object_ids")) {
    std::set<std::string> seen;
    for (const auto& v : given->as_array()) {
      std::string id(v.as_string());
      if (id.empty()) bad_request("object_ids: an object id cannot be empty");
      if (!seen.insert(id).second) bad_request("object_ids: " + id + " is listed twice");
      ids.push_back(std::move(id));
    }
  } else {
    int64_t n = options_.default_limit;
    if (const auto* limit = req.if_contains("limit")) {
      // The schema has checked it is an integer; it may still be huge or written as 3.0.
      if (limit->is_int64()) n = limit->as_int64();
      else if (limit->is_double()) n = limit->as_double() > 1e9 ? options_.max_limit
                                                                : static_cast<int64_t>(limit->as_double());
      else n = options_.max_limit;
      if (n < 1) bad_request("limit: must be at least 1");
    }
    n = std::min(n, options_.max_limit);
    for (int64_t i = 0; i < n; ++i) ids.push_back(new_id());
  }

  // The URLs are signed inside the transaction: a store that cannot take uploads now rolls the
  // allocation back and answers 503, leaving no allocation behind.
  bj::array objects;
  store_.write([&](store::WriteTransaction& tx) {
    const std::string container = require_container(load_writable_flow(tx, flow_id), "media objects");
    const int64_t expires = static_cast<int64_t>(std::time(nullptr)) +
                            options_.allocation_expiry_seconds;
    objects.clear();
    for (const auto& id : ids) {
      if (tx.get_object(id)) bad_request("object_ids: object " + id + " already exists");
      tx.put_object(store::ObjectRecord{id, target->backend().id, flow_id, "", 0, false, expires});
      std::string url;
      try {
        url = target->put_url(base_url, id);
      } catch (const media::StoreUnavailable& e) {
        throw Error(ErrorKind::kUnavailable, e.what());
      }
      objects.push_back(bj::object{
          {"object_id", id}, {"put_url", bj::object{{"url", std::move(url)}, {"content-type", container}}}});
    }
  });
  return bj::object{{"media_objects", std::move(objects)}};
}

bj::array Storage::backends() const {
  bj::array out;
  for (const auto* store : backends_.all()) {
    const auto& b = store->backend();
    bj::object o{{"id", b.id},
                 {"store_type", b.store_type},
                 {"provider", b.provider},
                 {"store_product", b.store_product}};
    if (!b.label.empty()) o["label"] = b.label;
    if (!b.region.empty()) o["region"] = b.region;
    if (!b.availability_zone.empty()) o["availability_zone"] = b.availability_zone;
    o["default_storage"] = b.default_storage;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace tams::core
