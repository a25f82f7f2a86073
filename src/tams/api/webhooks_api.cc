// GET|HEAD|POST /service/webhooks (admin scope: registrations carry receivers' URLs and keys).
#include "tams/api/routes.h"
#include "tams/http/responses.h"

namespace tams::api {

using http::Method;
using http::Request;
using http::Response;

void add_webhook_routes(http::Router& router, Deps& deps) {
  if (deps.webhooks == nullptr) return;
  core::Webhooks& webhooks = *deps.webhooks;
  router.add(Method::kGet, "/service/webhooks",
             [&webhooks](Request&) { return http::json_response(200, webhooks.list()); },
             {.scope = core::kScopeAdmin});
  router.add(Method::kPost, "/service/webhooks",
             [&webhooks](Request& req) {
               auto result = webhooks.post(json_body(req), req.base_url);
               if (result.removed) return http::no_content();
               return http::json_response(201, result.registration);
             },
             {.scope = core::kScopeAdmin});
}

}  // namespace tams::api
