// GET|HEAD /metrics: Prometheus text exposition of what the instance counts.
#include "tams/api/routes.h"

namespace tams::api {

void add_metrics_routes(http::Router& router, Deps& deps) {
  if (!deps.metrics) return;
  router.add(http::Method::kGet, "/metrics", [&deps](http::Request&) {
    http::Response r;
    r.body = deps.metrics();
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  });
}

}  // namespace tams::api
