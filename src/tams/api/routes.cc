#include "tams/api/routes.h"

namespace tams::api {

void add_routes(http::Router& router, Deps& deps) {
  add_service_routes(router, deps);
  add_source_routes(router, deps);
  add_flow_routes(router, deps);
  add_segment_routes(router, deps);
  add_object_routes(router, deps);
  add_deletion_routes(router, deps);
  add_metrics_routes(router, deps);
  add_health_routes(router, deps);
  add_webhook_routes(router, deps);
}

}  // namespace tams::api
