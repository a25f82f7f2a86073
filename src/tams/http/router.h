// Router: matches the raw (still percent-encoded) request path against route templates, so that
// an encoded '/' inside an object id or tag name never splits a path segment.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tams/http/message.h"

namespace tams::http {

using Handler = std::function<Response(Request&)>;

// Route templates are '/'-separated literals and captures: "/flows/{flowId}/tags/{name}".
// A final capture written "{name*}" takes the rest of the path, '/' included.
// Captures are percent-decoded after matching. Not thread-safe while routes are added; safe for
// concurrent match() calls afterwards.
class Router {
 public:
  void add(Method method, std::string route_template, Handler handler);

  enum class Outcome { kMatched, kNotFound, kMethodNotAllowed, kBadEncoding };
  struct Match {
    Outcome outcome = Outcome::kNotFound;
    const Handler* handler = nullptr;
    const std::string* route = nullptr;
    std::vector<std::string> params;
    std::vector<Method> allowed;  // methods the path supports (for 405 and OPTIONS)
  };
  // Finds the route for `method` and raw `path`. A HEAD request matches the GET route.
  Match match(Method method, std::string_view path) const;

 private:
  struct Route {
    Method method;
    std::string route_template;
    std::vector<std::string> parts;  // literal, "{x}" or "{x*}"
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace tams::http
