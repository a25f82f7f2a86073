// GET|HEAD /health/live and /health/ready: for load balancers and orchestrators, without
// credentials (decisions.md "Observability").
#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>

#include "tams/api/routes.h"
#include "tams/http/responses.h"

namespace tams::api {

void add_health_routes(http::Router& router, Deps& deps) {
  if (!deps.health) return;
  http::RouteOptions open;
  open.public_route = true;
  // Live: the process answers HTTP. Nothing else is checked, so a slow database never gets a
  // live instance restarted.
  router.add(
      http::Method::kGet, "/health/live",
      [](http::Request&) {
        return http::json_response(200, boost::json::object{{"status", "live"}});
      },
      open);
  // Ready: the database and the default storage can be used; otherwise 503 with an
  // error.json body naming what is not ready.
  router.add(
      http::Method::kGet, "/health/ready",
      [&deps](http::Request&) {
        const auto problems = deps.health->not_ready();
        if (problems.empty()) {
          return http::json_response(200, boost::json::object{{"status", "ready"}});
        }
        // The body names the components only; the reasons (paths, hosts) go to the log.
        std::string summary = "not ready:";
        for (size_t i = 0; i < problems.size(); ++i) {
          summary += (i > 0 ? ", " : " ") + problems[i].component;
          spdlog::warn("not ready: {}: {}", problems[i].component, problems[i].detail);
        }
        http::Response r = http::error_response(503, "unavailable", summary);
        r.set_header("Retry-After", "1");
        return r;
      },
      open);
}

}  // namespace tams::api
