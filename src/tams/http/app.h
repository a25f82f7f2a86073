// App: everything that happens to a request between the socket and the API handler — query
// parsing, CORS, authentication, scopes, routing, HEAD, and turning errors into error.json
// responses.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tams/http/auth.h"
#include "tams/http/message.h"
#include "tams/http/request_metrics.h"
#include "tams/http/router.h"
#include "tams/obs/metrics.h"

namespace tams::http {

struct AppOptions {
  std::vector<std::string> cors_origins;  // "*" or exact origins
  std::string public_url;                 // base for absolute URLs; empty = from Host
  obs::Registry* metrics = nullptr;       // where requests are counted; null: not counted
};

// Immutable after construction; handle() is safe to call from many threads at once.
class App {
 public:
  App(Router router, Authenticator authenticator, AppOptions options);

  // How the server is to read a request's body, decided from its headers alone.
  struct BodyPlan {
    enum class Kind {
      kBuffer,  // read it into Request::body (up to the server's limit), then handle()
      kStream,  // Request::body_sink is set: stream it there (up to max_bytes), then handle()
      kRefuse,  // send `refusal` without reading the body, then close the connection
    };
    Kind kind = Kind::kBuffer;
    uint64_t max_bytes = 0;  // kStream: the route's limit (0 = the server's)
    Response refusal;
  };
  // Called with the method, target and headers set, before the body is read. For a streaming
  // route: authenticates (unless the route is public), runs the route's precheck, checks
  // Content-Length against its limit and opens the body sink. Never throws.
  BodyPlan plan_body(Request& request) const;

  // Produces the response for `request` (whose method, target, headers and body are set; on a
  // streaming route the body is in request.body_sink, or in request.body when plan_body was not
  // called). Never throws: unexpected exceptions become a logged 500.
  Response handle(Request& request) const;

 private:
  // Sets `route_index` to the matched route's index (or leaves it -1).
  Response dispatch(Request& request, long& route_index) const;
  // True when the matched route asks no credentials of this request.
  static bool is_public(const RouteOptions& route, const Request& request);
  // Splits the target into path and query and decodes the query; false when it is malformed.
  bool prepare(Request& request) const;
  // Sets request.principal, or returns the 401 response.
  std::optional<Response> authenticate(Request& request) const;
  // The 403 response when the principal lacks the scope the route needs (RouteOptions::scope,
  // else tams-api/read for GET and HEAD and tams-api/write for the other methods).
  static std::optional<Response> authorize(const Request& request, const RouteOptions& route);
  // A response for an exception escaping a handler or a route callback.
  static Response exception_response(const Request& request);
  void add_cors(const Request& request, Response& response, bool preflight) const;

  Router router_;
  Authenticator authenticator_;
  AppOptions options_;
  std::unique_ptr<RequestMetrics> metrics_;  // null when options_.metrics is
};

}  // namespace tams::http
