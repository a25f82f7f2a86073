#include "tams/http/responses.h"

#include <boost/json/serialize.hpp>

#include "tams/core/clock.h"

namespace tams::http {

namespace {
template <class Json>
Response serialized(int status, const Json& body) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  r.content_type = "application/json";
  return r;
}
}  // namespace

Response json_response(int status, const boost::json::value& body) {
  return serialized(status, body);
}
Response json_response(int status, const boost::json::object& body) {
  return serialized(status, body);
}
Response json_response(int status, const boost::json::array& body) {
  return serialized(status, body);
}

Response json_text_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "application/json";
  return r;
}

Response no_content() {
  Response r;
  r.status = 204;
  return r;
}

Response error_response(int status, std::string_view type, std::string_view summary) {
  boost::json::object body;
  body["type"] = type;
  body["summary"] = summary;
  body["time"] = core::now_rfc3339();
  return json_response(status, body);
}

Response error_response(const core::Error& error) {
  using core::ErrorKind;
  switch (error.kind()) {
    case ErrorKind::kBadRequest: return error_response(400, "bad_request", error.summary());
    case ErrorKind::kUnauthorized: return error_response(401, "unauthorized", error.summary());
    case ErrorKind::kForbidden: return error_response(403, "forbidden", error.summary());
    case ErrorKind::kReadOnly: return error_response(403, "read_only", error.summary());
    case ErrorKind::kNotFound: return error_response(404, "not_found", error.summary());
    case ErrorKind::kMethodNotAllowed:
      return error_response(405, "method_not_allowed", error.summary());
    case ErrorKind::kConflict: return error_response(409, "conflict", error.summary());
    case ErrorKind::kPayloadTooLarge:
      return error_response(413, "payload_too_large", error.summary());
    case ErrorKind::kUnavailable: {
      Response r = error_response(503, "unavailable", error.summary());
      r.set_header("Retry-After", "1");
      return r;
    }
    case ErrorKind::kInternal: break;
  }
  return error_response(500, "internal", error.summary());
}

}  // namespace tams::http
