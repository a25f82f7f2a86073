// GET|HEAD /, GET|HEAD|POST /service, GET|HEAD /service/storage-backends.
#include <boost/json/array.hpp>

#include "tams/api/routes.h"
#include "tams/http/responses.h"

namespace tams::api {

namespace bj = boost::json;
using http::Method;
using http::Request;
using http::Response;

void add_service_routes(http::Router& router, Deps& deps) {
  router.add(Method::kGet, "/", [](Request&) {
    return http::json_response(200, bj::array{"service", "flows", "sources", "objects", "flow-delete-requests"});
  });
  router.add(Method::kGet, "/service",
             [&deps](Request&) { return http::json_response(200, deps.service.info()); });
  router.add(Method::kPost, "/service",
             [&deps](Request& req) {
               deps.service.update(json_body(req));
               return http::json_response(200, deps.service.info());
             },
             {.scope = core::kScopeAdmin});
  router.add(Method::kGet, "/service/storage-backends", [&deps](Request&) {
    return http::json_response(200, deps.storage.backends());
  });
}

}  // namespace tams::api
