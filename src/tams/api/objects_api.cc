// GET|HEAD /objects/{objectId} (the id percent-encoded; it may contain '/').
#include "tams/api/routes.h"
#include "tams/http/responses.h"

namespace tams::api {

using http::Method;
using http::Request;
using http::Response;

void add_object_routes(http::Router& router, Deps& deps) {
  static constexpr std::string_view kCursorKind = "o";
  router.add(Method::kGet, "/objects/{objectId*}", [&deps](Request& req) {
    auto page = page_request(req, deps.paging, kCursorKind);
    auto result = deps.objects.get(req.path_params[0], page);
    Response res = http::json_response(200, result.object);
    add_paging_headers(req, res, kCursorKind, result.next, page.limit);
    return res;
  });
}

}  // namespace tams::api
