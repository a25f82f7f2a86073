#include "tams/http/app.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "tams/http/percent.h"
#include "tams/http/responses.h"
#include "tams/store/read_affinity.h"
#include "tams/store/unavailable.h"

namespace tams::http {

namespace {

constexpr std::string_view kExposedHeaders =
    "Link, Location, X-Paging-NextKey, X-Paging-Limit, X-Paging-Count, X-Paging-Timerange, "
    "X-Paging-Reverse-Order, Retry-After, ETag, Content-Range, Accept-Ranges";

std::string allow_header(const std::vector<Method>& methods) {
  std::string out;
  auto add = [&](const char* name) {
    if (!out.empty()) out += ", ";
    out += name;
  };
  for (Method m : methods) {
    add(method_name(m));
    if (m == Method::kGet) add("HEAD");
  }
  add("OPTIONS");
  return out;
}

// Splits the raw query string into decoded parameters; false on a malformed escape.
bool parse_query(std::string_view query, std::vector<QueryParam>& out) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!name || !value) return false;
    out.push_back({std::move(*name), std::move(*value)});
  }
  return true;
}

}  // namespace

App::App(Router router, Authenticator authenticator, AppOptions options)
    : router_(std::move(router)),
      authenticator_(std::move(authenticator)),
      options_(std::move(options)) {
  if (options_.metrics) metrics_ = std::make_unique<RequestMetrics>(router_, *options_.metrics);
}

bool App::is_public(const RouteOptions& route, const Request& request) {
  return route.public_route || (route.public_on_loopback && request.from_loopback);
}

void App::add_cors(const Request& request, Response& response, bool preflight) const {
  if (request.origin.empty()) return;
  const bool any = std::find(options_.cors_origins.begin(), options_.cors_origins.end(), "*") !=
                   options_.cors_origins.end();
  const bool listed = std::find(options_.cors_origins.begin(), options_.cors_origins.end(),
                                request.origin) != options_.cors_origins.end();
  if (!any && !listed) return;
  response.set_header("Access-Control-Allow-Origin", any ? "*" : request.origin);
  if (!any) response.set_header("Vary", "Origin");
  response.set_header("Access-Control-Expose-Headers", std::string(kExposedHeaders));
  if (preflight) {
    response.set_header("Access-Control-Allow-Methods", "GET, HEAD, PUT, POST, DELETE, OPTIONS");
    response.set_header("Access-Control-Allow-Headers",
                        "Authorization, Content-Type, Range, If-None-Match, If-Range");
    response.set_header("Access-Control-Max-Age", "600");
  }
}

Response App::exception_response(const Request& request) {
  try {
    throw;
  } catch (const core::Error& e) {
    return error_response(e);
  } catch (const store::Unavailable& e) {
    // The metadata database is down: 503 with Retry-After, so clients retry.
    spdlog::warn("{} {}: {}", method_name(request.method), request.path, e.what());
    return error_response(core::Error(core::ErrorKind::kUnavailable,
                                      "the metadata database is unavailable; retry later"));
  } catch (const std::exception& e) {
    spdlog::error("{} {}: unexpected error: {}", method_name(request.method), request.path,
                  e.what());
  } catch (...) {
    spdlog::error("{} {}: unexpected error", method_name(request.method), request.path);
  }
  return error_response(500, "internal", "internal error; see the server log");
}

Response App::handle(Request& request) const {
  const auto start = std::chrono::steady_clock::now();
  struct InFlight {
    obs::Gauge* gauge;
    explicit InFlight(obs::Gauge* g) : gauge(g) {
      if (gauge) gauge->add(1);
    }
    ~InFlight() {
      if (gauge) gauge->add(-1);
    }
  } in_flight(metrics_ ? &metrics_->in_flight() : nullptr);
  Response response;
  long route_index = -1;
  try {
    response = dispatch(request, route_index);
  } catch (...) {
    response = exception_response(request);
  }
  add_cors(request, response, request.method == Method::kOptions);
  if (metrics_) {
    metrics_->record(request.method, route_index, response.status,
                     response.file ? response.file->length : response.body.size(),
                     std::chrono::steady_clock::now() - start);
  }
  return response;
}

bool App::prepare(Request& request) const {
  const std::string_view target = request.target;
  const size_t q = target.find('?');
  request.path = target.substr(0, q);
  request.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (!options_.public_url.empty()) {
    request.base_url = options_.public_url;
  } else {
    request.base_url = "http://" + (request.host.empty() ? std::string("localhost") : request.host);
  }
  request.query_params.clear();
  return parse_query(request.query, request.query_params);
}

std::optional<Response> App::authenticate(Request& request) const {
  auto result = authenticator_.authenticate(request.authorization, request.param("access_token"));
  if (!result.principal) {
    Response r = error_response(401, "unauthorized",
                                request.authorization.empty() && !request.param("access_token")
                                    ? "credentials required"
                                    : "invalid credentials");
    for (auto& c : Authenticator::challenges(result.bad_bearer)) {
      r.set_header("WWW-Authenticate", c);
    }
    return r;
  }
  request.principal = std::move(*result.principal);
  return std::nullopt;
}

std::optional<Response> App::authorize(const Request& request, const RouteOptions& route) {
  std::string_view needed;
  if (route.scope) {
    needed = *route.scope;
  } else {
    needed = request.method == Method::kGet || request.method == Method::kHead ? core::kScopeRead
                                                                               : core::kScopeWrite;
  }
  if (request.principal.has_scope(needed)) return std::nullopt;
  return error_response(403, "forbidden",
                        "this request needs the scope \"" + std::string(needed) + "\"");
}

App::BodyPlan App::plan_body(Request& request) const {
  BodyPlan plan;
  const auto start = std::chrono::steady_clock::now();
  long route_index = -1;
  auto refuse = [&](Response r) {
    plan.kind = BodyPlan::Kind::kRefuse;
    plan.refusal = std::move(r);
    add_cors(request, plan.refusal, false);
    if (metrics_) {
      metrics_->record(request.method, route_index, plan.refusal.status,
                       plan.refusal.body.size(), std::chrono::steady_clock::now() - start);
    }
    return std::move(plan);
  };
  try {
    if (!prepare(request)) return plan;  // handle() gives the 400
    auto match = router_.match(request.method, request.path);
    if (match.outcome != Router::Outcome::kMatched || !match.options->stream_body) return plan;
    const RouteOptions& route = *match.options;
    route_index = static_cast<long>(match.index);
    if (!is_public(route, request)) {
      if (auto r = authenticate(request)) return refuse(std::move(*r));
      if (auto r = authorize(request, route)) return refuse(std::move(*r));
    }
    request.path_params = std::move(match.params);
    request.route = *match.route;
    if (route.precheck) {
      if (auto r = route.precheck(request)) return refuse(std::move(*r));
    }
    if (route.max_body_bytes > 0 && request.content_length &&
        *request.content_length > route.max_body_bytes) {
      return refuse(error_response(
          413, "payload_too_large",
          "request body exceeds " + std::to_string(route.max_body_bytes) + " bytes"));
    }
    request.body_sink = route.open_body(request);
    plan.kind = BodyPlan::Kind::kStream;
    plan.max_bytes = route.max_body_bytes;
    return plan;
  } catch (...) {
    return refuse(exception_response(request));
  }
}

Response App::dispatch(Request& request, long& route_index) const {
  if (!prepare(request)) {
    return error_response(400, "bad_request",
                          "malformed percent-encoding or invalid UTF-8 in the query string");
  }

  auto match = router_.match(request.method, request.path);
  if (request.method == Method::kOptions) {
    // CORS preflight: answered without credentials, as browsers send none.
    if (match.allowed.empty()) return error_response(404, "not_found", "no such resource");
    Response r = no_content();
    r.set_header("Allow", allow_header(match.allowed));
    return r;
  }

  // Public routes (signed URLs) authorise each request themselves.
  if (match.outcome == Router::Outcome::kMatched) route_index = static_cast<long>(match.index);
  const bool public_request =
      match.outcome == Router::Outcome::kMatched && is_public(*match.options, request);
  if (!public_request) {
    if (auto r = authenticate(request)) return std::move(*r);
  }

  switch (match.outcome) {
    case Router::Outcome::kNotFound:
      return error_response(404, "not_found", "no such resource: " + std::string(request.path));
    case Router::Outcome::kBadEncoding:
      return error_response(400, "bad_request",
                            "malformed percent-encoding or invalid UTF-8 in the path");
    case Router::Outcome::kMethodNotAllowed: {
      Response r = error_response(405, "method_not_allowed",
                                  std::string(method_name(request.method)) + " is not allowed on " +
                                      std::string(request.path));
      r.set_header("Allow", allow_header(match.allowed));
      return r;
    }
    case Router::Outcome::kMatched:
      break;
  }
  const RouteOptions& route = *match.options;
  if (!public_request) {
    if (auto r = authorize(request, route)) return std::move(*r);
  }
  request.path_params = std::move(match.params);
  request.route = *match.route;
  if (route.stream_body && !request.body_sink) {
    // Called in-process with a buffered body (plan_body was not used): stream it from memory.
    if (route.precheck) {
      if (auto r = route.precheck(request)) return std::move(*r);
    }
    if (route.max_body_bytes > 0 && request.body.size() > route.max_body_bytes) {
      return error_response(
          413, "payload_too_large",
          "request body exceeds " + std::to_string(route.max_body_bytes) + " bytes");
    }
    request.body_sink = route.open_body(request);
    request.body_sink->write(request.body.data(), request.body.size());
    request.body.clear();
  }
  // Read-your-writes per client: after this principal's writes, its reads go to the primary.
  store::ReadAffinity affinity(request.principal.name);
  return (*match.handler)(request);
}

}  // namespace tams::http
