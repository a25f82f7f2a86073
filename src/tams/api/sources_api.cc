// /sources and the source property sub-resources.
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include "tams/api/routes.h"
#include "tams/core/error.h"
#include "tams/http/responses.h"

namespace tams::api {

namespace bj = boost::json;
using http::Method;
using http::Request;
using http::Response;

namespace {
constexpr std::string_view kCursorKind = "s";
}  // namespace

void add_source_routes(http::Router& router, Deps& deps) {
  router.add(Method::kGet, "/sources", [&deps](Request& req) {
    store::SourceFilter filter;
    if (auto v = req.param("label")) filter.label = std::string(*v);
    filter.format = format_param(req);
    filter.tags = tag_filters(req);
    auto page = page_request(req, deps.paging, kCursorKind);
    auto result = deps.sources.list(filter, page);
    bj::array items;
    for (auto& s : result.items) items.push_back(std::move(s));
    Response res = http::json_response(200, items);
    add_paging_headers(req, res, kCursorKind, result.next, page.limit);
    return res;
  });
  router.add(Method::kGet, "/sources/{sourceId}", [&deps](Request& req) {
    return http::json_text_response(200, *deps.sources.document_json(req.path_params[0]));
  });
  router.add(Method::kGet, "/sources/{sourceId}/tags", [&deps](Request& req) {
    return http::json_response(200, deps.sources.tags(req.path_params[0]));
  });
  router.add(Method::kGet, "/sources/{sourceId}/tags/{name}", [&deps](Request& req) {
    return http::json_response(200, bj::string(deps.sources.tag(req.path_params[0],
                                                                req.path_params[1])));
  });
  router.add(Method::kPut, "/sources/{sourceId}/tags/{name}", [&deps](Request& req) {
    deps.sources.put_tag(req.path_params[0], req.path_params[1], json_body(req), req.principal);
    return http::no_content();
  });
  router.add(Method::kDelete, "/sources/{sourceId}/tags/{name}", [&deps](Request& req) {
    deps.sources.delete_tag(req.path_params[0], req.path_params[1], req.principal);
    return http::no_content();
  });
  for (const char* property : {"label", "description"}) {
    const std::string route = std::string("/sources/{sourceId}/") + property;
    router.add(Method::kGet, route, [&deps, property](Request& req) {
      return http::json_response(
          200, bj::string(deps.sources.text_property(req.path_params[0], property)));
    });
    router.add(Method::kPut, route, [&deps, property](Request& req) {
      deps.sources.put_text_property(req.path_params[0], property, json_body(req), req.principal);
      return http::no_content();
    });
    router.add(Method::kDelete, route, [&deps, property](Request& req) {
      deps.sources.delete_text_property(req.path_params[0], property, req.principal);
      return http::no_content();
    });
  }
}

}  // namespace tams::api
