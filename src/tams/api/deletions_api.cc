// DELETE /flows/{flowId}, DELETE /flows/{flowId}/segments, GET|HEAD /flow-delete-requests[/{id}].
#include "tams/api/routes.h"
#include "tams/http/responses.h"

namespace tams::api {

using http::Method;
using http::Request;
using http::Response;

Response deletion_accepted(const Request& request, const boost::json::object& body) {
  Response r = http::json_response(202, body);
  r.set_header("Location", request.base_url + "/flow-delete-requests/" +
                               std::string(body.at("id").as_string()));
  return r;
}

void add_deletion_routes(http::Router& router, Deps& deps) {
  router.add(Method::kDelete, "/flows/{flowId}",
             [&deps](Request& req) {
               auto outcome = deps.deletions.delete_flow(req.path_params[0], req.principal);
               if (outcome.done) return http::no_content();
               if (deps.deletion_requested) deps.deletion_requested();
               return deletion_accepted(req, outcome.request);
             },
             {.scope = core::kScopeDelete});
  router.add(Method::kDelete, "/flows/{flowId}/segments",
             [&deps](Request& req) {
               const auto range =
                   timerange_param(req, "timerange").value_or(time::TimeRange::eternity());
               std::optional<std::string> object_id;
               if (auto v = req.param("object_id")) object_id = std::string(*v);
               auto outcome = deps.deletions.delete_segments(req.path_params[0], range, object_id,
                                                             req.principal);
               if (outcome.done) return http::no_content();
               if (deps.deletion_requested) deps.deletion_requested();
               return deletion_accepted(req, outcome.request);
             },
             {.scope = core::kScopeDelete});
  router.add(Method::kGet, "/flow-delete-requests", [&deps](Request&) {
    return http::json_response(200, deps.deletions.list());
  });
  router.add(Method::kGet, "/flow-delete-requests/{requestId}", [&deps](Request& req) {
    return http::json_response(200, deps.deletions.get(req.path_params[0]));
  });
}

}  // namespace tams::api
