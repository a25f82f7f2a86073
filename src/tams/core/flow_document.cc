#include "tams/core/flow_document.h"

#include "tams/core/error.h"
#include "tams/core/ids.h"

namespace tams::core {

namespace bj = boost::json;

std::string_view string_member(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

bool is_read_only(const bj::object& flow) {
  const auto* v = flow.if_contains("read_only");
  return v && v->is_bool() && v->as_bool();
}

bj::object load_flow(store::Reader& reader, const std::string& id) {
  if (!is_valid_id(id)) not_found("\"" + id + "\" is not a valid flow id");
  auto doc = reader.get_flow(id);
  if (!doc) not_found("no flow with id " + id);
  return std::move(*doc);
}

bj::object load_writable_flow(store::Reader& reader, const std::string& id) {
  bj::object flow = load_flow(reader, id);
  if (is_read_only(flow)) read_only("flow " + id + " is read-only");
  return flow;
}

std::string require_container(const bj::object& flow, std::string_view what) {
  const std::string_view container = string_member(flow, "container");
  if (container.empty()) {
    bad_request("flow " + std::string(string_member(flow, "id")) +
                " has no container, so it cannot have " + std::string(what));
  }
  return std::string(container);
}

}  // namespace tams::core
