// /flows, /flows/{id} and the flow property sub-resources.
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include "tams/api/routes.h"
#include "tams/core/error.h"
#include "tams/http/responses.h"

namespace tams::api {

namespace bj = boost::json;
using core::FlowProperty;
using http::Method;
using http::Request;
using http::Response;

namespace {

constexpr std::string_view kCursorKind = "f";

store::FlowFilter flow_filter(const Request& req) {
  store::FlowFilter filter;
  filter.source_id = id_param(req, "source_id");
  filter.format = format_param(req);
  if (auto v = req.param("codec")) {
    if (v->find('/') == std::string_view::npos) {
      core::bad_request("codec: \"" + std::string(*v) + "\" is not a MIME type");
    }
    filter.codec = std::string(*v);
  }
  if (auto v = req.param("label")) filter.label = std::string(*v);
  filter.frame_width = int_param(req, "frame_width");
  filter.frame_height = int_param(req, "frame_height");
  filter.tags = tag_filters(req);
  filter.timerange = timerange_param(req, "timerange");
  return filter;
}

}  // namespace

void add_flow_routes(http::Router& router, Deps& deps) {
  router.add(Method::kGet, "/flows", [&deps](Request& req) {
    auto filter = flow_filter(req);
    auto page = page_request(req, deps.paging, kCursorKind);
    auto result = deps.flows.list(filter, page);
    bj::array items;
    for (auto& f : result.items) items.push_back(std::move(f));
    Response res = http::json_response(200, items);
    add_paging_headers(req, res, kCursorKind, result.next, page.limit);
    return res;
  });
  router.add(Method::kGet, "/flows/{flowId}", [&deps](Request& req) {
    const bool include_timerange = bool_param(req, "include_timerange").value_or(false);
    const auto limit = timerange_param(req, "timerange").value_or(time::TimeRange::eternity());
    if (!include_timerange) {
      return http::json_text_response(200, *deps.flows.document_json(req.path_params[0]));
    }
    return http::json_response(200, deps.flows.get(req.path_params[0], include_timerange, limit));
  });
  router.add(Method::kPut, "/flows/{flowId}", [&deps](Request& req) {
    auto result = deps.flows.put(req.path_params[0], json_body(req), req.principal);
    if (result.created) return http::json_response(201, result.flow);
    return http::no_content();
  });

  router.add(Method::kGet, "/flows/{flowId}/tags", [&deps](Request& req) {
    return http::json_response(200, deps.flows.tags(req.path_params[0]));
  });
  router.add(Method::kGet, "/flows/{flowId}/tags/{name}", [&deps](Request& req) {
    return http::json_response(200,
                               bj::string(deps.flows.tag(req.path_params[0], req.path_params[1])));
  });
  router.add(Method::kPut, "/flows/{flowId}/tags/{name}", [&deps](Request& req) {
    deps.flows.put_tag(req.path_params[0], req.path_params[1], json_body(req), req.principal);
    return http::no_content();
  });
  router.add(Method::kDelete, "/flows/{flowId}/tags/{name}", [&deps](Request& req) {
    deps.flows.delete_tag(req.path_params[0], req.path_params[1], req.principal);
    return http::no_content();
  });

  for (FlowProperty property :
       {FlowProperty::kLabel, FlowProperty::kDescription, FlowProperty::kReadOnly,
        FlowProperty::kFlowCollection, FlowProperty::kMaxBitRate, FlowProperty::kAvgBitRate}) {
    const std::string route = std::string("/flows/{flowId}/") + core::property_name(property);
    router.add(Method::kGet, route, [&deps, property](Request& req) {
      return http::json_response(200, deps.flows.property(req.path_params[0], property));
    });
    router.add(Method::kPut, route, [&deps, property](Request& req) {
      deps.flows.put_property(req.path_params[0], property, json_body(req), req.principal);
      return http::no_content();
    });
    if (property == FlowProperty::kReadOnly) continue;  // no DELETE in the spec
    router.add(Method::kDelete, route, [&deps, property](Request& req) {
      deps.flows.delete_property(req.path_params[0], property, req.principal);
      return http::no_content();
    });
  }
}

}  // namespace tams::api
