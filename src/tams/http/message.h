// Request and Response as the API handlers see them: plain structs, no Beast in sight, so that
// api/ compiles fast and can be tested without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tams/core/principal.h"

namespace tams::http {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kOptions, kOther };

// "GET", "HEAD", ...; "?" for kOther.
const char* method_name(Method m);

// One decoded query parameter, in the order the client sent them.
struct QueryParam {
  std::string name;
  std::string value;
};

// Receives the body of a request on a streaming route (RouteOptions::stream_body) as it arrives,
// so that large uploads never sit in memory. Called on the connection's thread, in order.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Takes the next bytes of the body. Throws to abort the request: the server logs what(),
  // answers 500 and closes the connection.
  virtual void write(const char* data, size_t size) = 0;
};

struct Request {
  Method method = Method::kOther;
  std::string target;                    // raw request target as received ("/flows/x?limit=5")
  std::string_view path;                 // raw path part of target (still percent-encoded)
  std::string_view query;                // raw query part of target, without '?'
  std::vector<QueryParam> query_params;  // percent-decoded; '+' is not space (TAMS sends raw)
  std::vector<std::string> path_params;  // percent-decoded captures of the matched route
  std::string route;  // the matched route template, e.g. "/flows/{flowId}/tags/{name}"
  std::string body;   // the buffered body (empty on streaming routes)
  // Streaming routes: the sink the body was written to, complete when the handler runs.
  std::shared_ptr<BodySink> body_sink;
  // Selected headers (empty when absent).
  std::string authorization;
  std::string origin;
  std::string host;
  std::string content_type;
  std::string range;
  std::string if_none_match;
  std::string if_range;
  std::optional<uint64_t> content_length;  // absent for chunked bodies
  bool from_loopback = false;              // the peer's address is 127.0.0.0/8 or ::1
  core::Principal principal;               // set by authentication
  std::string base_url;                    // "http://host:port" this request was addressed to

  // The value of the last query parameter called `name`, if any.
  std::optional<std::string_view> param(std::string_view name) const;
};

// A response body read from a file by the server in chunks: `length` bytes from `offset`.
struct FileBody {
  std::shared_ptr<const int> fd;  // the descriptor, closed when the last copy goes
  uint64_t offset = 0;
  uint64_t length = 0;

  // Takes ownership of the open descriptor `fd`.
  static FileBody adopt(int fd, uint64_t offset, uint64_t length);
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;  // empty: no Content-Type header (e.g. 204)
  // When set, the body comes from this file instead of `body` (and sets Content-Length).
  std::optional<FileBody> file;

  void set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

}  // namespace tams::http
