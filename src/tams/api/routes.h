// The TAMS API: every route, mapped onto core calls. One file per resource group.
#pragma once

#include "tams/api/params.h"
#include "tams/core/flows.h"
#include "tams/core/service.h"
#include "tams/core/sources.h"
#include "tams/http/router.h"

namespace tams::api {

// What the handlers call. References must outlive the router.
struct Deps {
  core::Service& service;
  core::Sources& sources;
  core::Flows& flows;
  PagingLimits paging;
};

void add_service_routes(http::Router& router, Deps& deps);  // /, /service, storage backends
void add_source_routes(http::Router& router, Deps& deps);   // /sources...
void add_flow_routes(http::Router& router, Deps& deps);     // /flows... (metadata)

// All of the above.
void add_routes(http::Router& router, Deps& deps);

}  // namespace tams::api
