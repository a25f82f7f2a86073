// GET|HEAD /metrics: Prometheus text exposition of what the instance counts.
#include "tams/api/routes.h"

namespace tams::api {

void add_metrics_routes(http::Router& router, Deps& deps) {
  if (!deps.metrics) return;
  // decisions.md "Observability": loopback clients (a Prometheus agent beside tams) need no
  // credentials by default; everybody else needs the read scope like any GET.
  http::RouteOptions options;
  options.public_route = deps.metrics_access == "public";
  options.public_on_loopback = deps.metrics_access == "loopback";
  router.add(
      http::Method::kGet, "/metrics",
      [&deps](http::Request&) {
        http::Response r;
        r.body = deps.metrics();
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        return r;
      },
      options);
}

}  // namespace tams::api
