#include "tams/core/service.h"

#include "tams/core/error.h"
#include "tams/json/schema.h"

namespace tams::core {

namespace bj = boost::json;

bj::object Service::info() {
  bj::object out{{"type", "urn:x-tams:service.tams"},
                 {"api_version", "7.0"},
                 {"service_version", "tams " + service_version_}};
  if (webhooks_) out["event_stream_mechanisms"] = bj::array{bj::object{{"name", "webhooks"}}};
  store_.read([&](store::Reader& r) {
    if (auto name = r.get_setting("name")) out["name"] = *name;
    if (auto description = r.get_setting("description")) out["description"] = *description;
  });
  return out;
}

void Service::update(const bj::value& body) {
  if (auto problem = json::SchemaSet::spec().validate("service-post.json", body)) {
    bad_request("service: " + *problem);
  }
  const auto& o = body.as_object();
  store_.write([&](store::WriteTransaction& tx) {
    for (const char* key : {"name", "description"}) {
      if (auto* v = o.if_contains(key)) tx.put_setting(key, std::string(v->as_string()));
    }
  });
}


}  // namespace tams::core
