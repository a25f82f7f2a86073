// The TAMS API: every route, mapped onto core calls. One file per resource group.
#pragma once

#include <functional>

#include "tams/api/params.h"
#include "tams/core/deletions.h"
#include "tams/core/flows.h"
#include "tams/core/health.h"
#include "tams/core/objects.h"
#include "tams/core/segments.h"
#include "tams/core/service.h"
#include "tams/core/sources.h"
#include "tams/core/storage.h"
#include "tams/core/webhooks.h"
#include "tams/http/router.h"

namespace tams::api {

// What the handlers call. References must outlive the router.
struct Deps {
  core::Service& service;
  core::Sources& sources;
  core::Flows& flows;
  core::Segments& segments;
  core::Storage& storage;
  core::Objects& objects;
  core::Deletions& deletions;
  PagingLimits paging;
  std::function<void()> deletion_requested;  // wakes the background worker
  // Prometheus text for GET /metrics (assembled by the caller from the parts that count).
  std::function<std::string()> metrics;
  // Who may read /metrics: "loopback", "authenticated" or "public" (config metrics_access).
  std::string metrics_access = "loopback";
  core::Health* health = nullptr;  // null: /health/* are not offered
  core::Webhooks* webhooks = nullptr;        // null: /service/webhooks is not offered (404)
};

void add_service_routes(http::Router& router, Deps& deps);  // /, /service, storage backends
void add_source_routes(http::Router& router, Deps& deps);   // /sources...
void add_flow_routes(http::Router& router, Deps& deps);     // /flows... (metadata)
void add_segment_routes(http::Router& router, Deps& deps);  // /flows/{id}/segments, /storage
void add_object_routes(http::Router& router, Deps& deps);   // /objects/{objectId}
void add_deletion_routes(http::Router& router, Deps& deps); // DELETE /flows/{id}, requests
void add_webhook_routes(http::Router& router, Deps& deps);
void add_metrics_routes(http::Router& router, Deps& deps);  // /metrics
void add_health_routes(http::Router& router, Deps& deps);   // /health/live, /health/ready

// The 202 response for an unfinished deletion: Location and the deletion-request body.
http::Response deletion_accepted(const http::Request& request, const boost::json::object& body);

// All of the above.
void add_routes(http::Router& router, Deps& deps);

}  // namespace tams::api
