// Request and Response as the API handlers see them: plain structs, no Beast in sight, so that
// api/ compiles fast and can be tested without sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tams/core/principal.h"

namespace tams::http {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kOptions, kOther };

// One decoded query parameter, in the order the client sent them.
struct QueryParam {
  std::string name;
  std::string value;
};

struct Request {
  Method method = Method::kOther;
  std::string target;       // raw request target as received ("/flows/x?limit=5")
  std::string_view path;    // raw path part of target (still percent-encoded)
  std::string_view query;   // raw query part of target, without '?'
  std::vector<QueryParam> query_params;  // percent-decoded; '+' is not space (TAMS sends raw)
  std::vector<std::string> path_params;  // percent-decoded captures of the matched route
  std::string route;        // the matched route template, e.g. "/flows/{flowId}/tags/{name}"
  std::string body;
  // Selected headers (empty when absent).
  std::string authorization;
  std::string origin;
  std::string host;
  std::string content_type;
  core::Principal principal;  // set by authentication
  std::string base_url;       // "http://host:port" this request was addressed to

  // The value of the last query parameter called `name`, if any.
  std::optional<std::string_view> param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;  // empty: no Content-Type header (e.g. 204)

  void set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

}  // namespace tams::http
