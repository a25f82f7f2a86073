#include "tams/api/media_api.h"

#include <charconv>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tams/http/responses.h"

namespace tams::api {

namespace {

using http::Method;
using http::Request;
using http::Response;

constexpr size_t kMaxContentTypeLength = 256;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// 403 unless the request carries a valid, unexpired signature for `method` and the path's
// object id. One message for every failure, so a prober learns nothing about which part failed.
std::optional<Response> check_signature(const Request& request, const media::LocalMediaStore& store,
                                        std::string_view method) {
  const auto url_method = request.param("method");
  const auto expires = request.param("expires");
  const auto signature = request.param("signature");
  const bool valid = url_method && *url_method == method && expires && signature &&
                     request.path_params.size() == 1 &&
                     store.verify(method, request.path_params[0], *expires, *signature, unix_now());
  if (valid) return std::nullopt;
  return http::error_response(403, "forbidden", "invalid or expired signature");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The content type recorded for an upload: the request's, or application/octet-stream.
std::string upload_content_type(const Request& request) {
  const std::string_view type = trim(request.content_type);
  return type.empty() ? "application/octet-stream" : std::string(type);
}

// If-None-Match: "*" or a list of entity tags, compared weakly (RFC 9110 13.1.2).
bool none_match_hits(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view tag = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

// Decimal digits only; values beyond uint64 saturate (they are past any object's end anyway).
std::optional<uint64_t> parse_position(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ptr != text.data() + text.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<uint64_t>::max();
  if (ec != std::errc()) return std::nullopt;
  return value;
}

struct ByteRange {
  enum class Kind { kWhole, kPart, kUnsatisfiable };
  Kind kind = Kind::kWhole;
  uint64_t first = 0;  // included
  uint64_t last = 0;   // included
};

// A Range header against an object of `size` bytes (RFC 9110 14.1.2). Anything other than one
// well-formed bytes range (several ranges, other units, bad syntax) is ignored: the whole object
// is served, as the RFC allows.
ByteRange parse_range(std::string_view header, uint64_t size) {
  ByteRange whole;
  header = trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() < kUnit.size()) return whole;
  for (size_t i = 0; i < kUnit.size(); ++i) {
    const char c = header[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kUnit[i]) return whole;
  }
  const std::string_view spec = trim(header.substr(kUnit.size()));
  const size_t dash = spec.find('-');
  if (spec.find(',') != std::string_view::npos || dash == std::string_view::npos) return whole;
  const std::string_view first_text = trim(spec.substr(0, dash));
  const std::string_view last_text = trim(spec.substr(dash + 1));
  ByteRange range;
  range.kind = ByteRange::Kind::kPart;
  if (first_text.empty()) {
    // Suffix range: the last N bytes.
    const auto n = parse_position(last_text);
    if (!n) return whole;
    if (*n == 0 || size == 0) return {ByteRange::Kind::kUnsatisfiable};
    range.first = size - std::min(*n, size);
    range.last = size - 1;
    return range;
  }
  const auto first = parse_position(first_text);
  if (!first) return whole;
  std::optional<uint64_t> last;
  if (!last_text.empty()) {
    last = parse_position(last_text);
    if (!last || *last < *first) return whole;
  }
  if (*first >= size) return {ByteRange::Kind::kUnsatisfiable};
  range.first = *first;
  range.last = last ? std::min(*last, size - 1) : size - 1;
  return range;
}

// The body sink of a PUT: the bytes go straight into a LocalUpload's temporary file.
class UploadSink : public http::BodySink {
 public:
  explicit UploadSink(media::LocalUpload upload) : upload_(std::move(upload)) {}
  void write(const char* data, size_t size) override { upload_.write(data, size); }
  media::LocalUpload take() { return std::move(upload_); }

 private:
  media::LocalUpload upload_;
};

Response put_object(media::LocalMediaStore& store, Request& request) {
  auto sink = std::dynamic_pointer_cast<UploadSink>(request.body_sink);
  if (!sink) throw std::logic_error("PUT /media: the body was not streamed into an upload");
  const auto result = store.commit(sink->take(), upload_content_type(request));
  Response r;
  // 201 for a new object, 200 when the upload replaced one (decisions.md).
  r.status = result.replaced ? 200 : 201;
  r.set_header("ETag", result.info.etag);
  return r;
}

Response get_object(const media::LocalMediaStore& store, Request& request) {
  if (auto refusal = check_signature(request, store, "GET")) return std::move(*refusal);
  auto object = store.open_object(request.path_params[0]);
  if (!object) return http::error_response(404, "not_found", "no such media object");
  const media::LocalObjectInfo& info = object->info;
  Response r;
  r.set_header("ETag", info.etag);
  r.set_header("Accept-Ranges", "bytes");
  if (!request.if_none_match.empty() && none_match_hits(request.if_none_match, info.etag)) {
    r.status = 304;
    return r;
  }
  ByteRange range;
  // If-Range: the range only applies to the representation the client already has part of.
  if (!request.range.empty() && (request.if_range.empty() || request.if_range == info.etag)) {
    range = parse_range(request.range, info.size);
  }
  const std::string size = std::to_string(info.size);
  switch (range.kind) {
    case ByteRange::Kind::kUnsatisfiable: {
      Response refusal = http::error_response(
          416, "bad_request", "range not satisfiable: the object has " + size + " bytes");
      refusal.set_header("Content-Range", "bytes */" + size);
      refusal.set_header("Accept-Ranges", "bytes");
      return refusal;
    }
    case ByteRange::Kind::kPart:
      r.status = 206;
      r.set_header("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                        std::to_string(range.last) + "/" + size);
      r.file =
          http::FileBody::adopt(object->file.release(), range.first, range.last - range.first + 1);
      break;
    case ByteRange::Kind::kWhole:
      r.file = http::FileBody::adopt(object->file.release(), 0, info.size);
      break;
  }
  r.content_type = info.content_type;
  return r;
}

}  // namespace

void add_media_routes(http::Router& router, media::LocalMediaStore& store) {
  http::RouteOptions upload;
  upload.public_route = true;
  upload.stream_body = true;
  upload.max_body_bytes = store.options().max_object_bytes;
  upload.precheck = [&store](Request& request) -> std::optional<Response> {
    if (auto refusal = check_signature(request, store, "PUT")) return refusal;
    if (trim(request.content_type).size() > kMaxContentTypeLength) {
      return http::error_response(
          400, "bad_request",
          "Content-Type: longer than " + std::to_string(kMaxContentTypeLength) + " characters");
    }
    return std::nullopt;
  };
  upload.open_body = [&store](Request& request) -> std::shared_ptr<http::BodySink> {
    return std::make_shared<UploadSink>(store.begin_upload(request.path_params[0]));
  };
  router.add(
      Method::kPut, "/media/{objectId*}",
      [&store](Request& request) { return put_object(store, request); }, std::move(upload));

  http::RouteOptions download;
  download.public_route = true;
  router.add(
      Method::kGet, "/media/{objectId*}",
      [&store](Request& request) { return get_object(store, request); }, std::move(download));
}

}  // namespace tams::api
