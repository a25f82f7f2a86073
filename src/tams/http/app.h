// App: everything that happens to a request between the socket and the API handler — query
// parsing, CORS, authentication, routing, HEAD, and turning errors into error.json responses.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tams/http/auth.h"
#include "tams/http/message.h"
#include "tams/http/router.h"

namespace tams::http {

struct AppOptions {
  std::vector<std::string> cors_origins;  // "*" or exact origins
  std::string public_url;                 // base for absolute URLs; empty = from Host
};

// Immutable after construction; handle() is safe to call from many threads at once.
class App {
 public:
  App(Router router, Authenticator authenticator, AppOptions options);

  // Produces the response for `request` (whose method, target, headers and body are set).
  // Never throws: unexpected exceptions become a logged 500.
  Response handle(Request& request) const;

 private:
  Response dispatch(Request& request) const;
  void add_cors(const Request& request, Response& response, bool preflight) const;

  Router router_;
  Authenticator authenticator_;
  AppOptions options_;
};

}  // namespace tams::http
