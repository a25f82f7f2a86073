// Router: matches the raw (still percent-encoded) request path against route templates, so that
// an encoded '/' inside an object id or tag name never splits a path segment.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tams/http/message.h"

namespace tams::http {

using Handler = std::function<Response(Request&)>;

// What a route needs beyond its handler.
struct RouteOptions {
  // No API credentials are asked for: the route authorises each request itself (signed URLs),
  // or answers anybody (health).
  bool public_route = false;
  // No API credentials are asked for when the client connects from a loopback address
  // (Request::from_loopback); others need them as usual (metrics_access = loopback).
  bool public_on_loopback = false;
  // The scope (core::kScope*) a caller needs for this route; unset = by method: GET/HEAD need
  // tams-api/read, PUT/POST/DELETE need tams-api/write. Ignored on public routes.
  std::optional<std::string_view> scope{};
  // The body is streamed into a sink instead of being buffered: once the headers are in,
  // `precheck` runs (a response refuses the request before any body byte is read), then
  // `open_body` gives the sink (Request::body_sink) and the server feeds it up to
  // `max_body_bytes` bytes (413 beyond; 0 = the server's limit) before calling the handler.
  bool stream_body = false;
  uint64_t max_body_bytes = 0;
  std::function<std::optional<Response>(Request&)> precheck{};
  std::function<std::shared_ptr<BodySink>(Request&)> open_body{};
};

// Route templates are '/'-separated literals and captures: "/flows/{flowId}/tags/{name}".
// A final capture written "{name*}" takes the rest of the path, '/' included.
// Captures are percent-decoded after matching. Not thread-safe while routes are added; safe for
// concurrent match() calls afterwards.
class Router {
 public:
  void add(Method method, std::string route_template, Handler handler, RouteOptions options = {});

  enum class Outcome { kMatched, kNotFound, kMethodNotAllowed, kBadEncoding };
  struct Match {
    Outcome outcome = Outcome::kNotFound;
    const Handler* handler = nullptr;
    const RouteOptions* options = nullptr;
    const std::string* route = nullptr;
    size_t index = 0;  // the matched route's position (see route_count), when kMatched
    std::vector<std::string> params;
    std::vector<Method> allowed;  // methods the path supports (for 405 and OPTIONS)
  };
  // Finds the route for `method` and raw `path`. A HEAD request matches the GET route.
  Match match(Method method, std::string_view path) const;

  // The routes in the order they were added (for per-route bookkeeping such as metrics).
  size_t route_count() const { return routes_.size(); }
  Method route_method(size_t index) const { return routes_[index].method; }
  const std::string& route_template(size_t index) const { return routes_[index].route_template; }

 private:
  struct Route {
    Method method;
    std::string route_template;
    std::vector<std::string> parts;  // literal, "{x}" or "{x*}"
    Handler handler;
    RouteOptions options;
  };
  std::vector<Route> routes_;
};

}  // namespace tams::http
