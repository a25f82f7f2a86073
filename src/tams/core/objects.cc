#include "tams/core/objects.h"

#include <boost/json/array.hpp>

#include "tams/core/error.h"

namespace tams::core {

namespace bj = boost::json;

Objects::Result Objects::get(const std::string& object_id, const model::PageRequest& page) {
  Result result;
  store_.read([&](store::Reader& r) {
    auto object = r.get_object(object_id);
    if (!object) not_found("no object with id \"" + object_id + "\"");
    auto flows = r.object_flows(object_id, page);
    bj::array ids;
    for (auto& f : flows.items) ids.push_back(bj::string(f));
    result.object["id"] = object_id;
    result.object["referenced_by_flows"] = std::move(ids);
    if (!object->first_referenced_by_flow.empty()) {
      result.object["first_referenced_by_flow"] = object->first_referenced_by_flow;
    }
    result.next = flows.next;
  });
  return result;
}

}  // namespace tams::core
