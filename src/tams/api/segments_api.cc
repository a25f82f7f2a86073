// GET|HEAD|POST /flows/{flowId}/segments and POST /flows/{flowId}/storage.
#include <boost/json/array.hpp>
#include <charconv>

#include "tams/api/routes.h"
#include "tams/core/clock.h"
#include "tams/core/error.h"
#include "tams/core/ids.h"
#include "tams/http/responses.h"

namespace tams::api {

namespace bj = boost::json;
using http::Method;
using http::Request;
using http::Response;

namespace {

constexpr std::string_view kCursorKind = "g";

// A comma-separated list parameter (pattern ^([^,]+(,[^,]+)*)?$): nullopt when absent, an empty
// list when present but empty.
std::optional<std::vector<std::string>> list_param(const Request& req, std::string_view name) {
  auto v = req.param(name);
  if (!v) return std::nullopt;
  std::vector<std::string> items;
  if (v->empty()) return items;
  size_t start = 0;
  while (true) {
    const size_t comma = v->find(',', start);
    std::string item(v->substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (item.empty()) {
      core::bad_request(std::string(name) + ": empty item in \"" + std::string(*v) + "\"");
    }
    items.push_back(std::move(item));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return items;
}

core::GetUrlsFilter get_urls_filter(const Request& req) {
  core::GetUrlsFilter f;
  f.accept_get_urls = list_param(req, "accept_get_urls");
  f.accept_storage_ids = list_param(req, "accept_storage_ids");
  if (f.accept_storage_ids) {
    for (const auto& id : *f.accept_storage_ids) {
      if (!core::is_valid_id(id)) {
        core::bad_request("accept_storage_ids: \"" + id + "\" is not a valid storage id");
      }
    }
  }
  f.presigned = bool_param(req, "presigned");
  f.verbose_storage = bool_param(req, "verbose_storage").value_or(false);
  return f;
}

}  // namespace

void add_segment_routes(http::Router& router, Deps& deps) {
  router.add(Method::kGet, "/flows/{flowId}/segments", [&deps](Request& req) {
    core::Segments::ListQuery q;
    q.timerange = timerange_param(req, "timerange").value_or(time::TimeRange::eternity());
    if (auto v = req.param("object_id")) q.object_id = std::string(*v);
    q.reverse_order = bool_param(req, "reverse_order").value_or(false);
    q.get_urls = get_urls_filter(req);
    q.page = page_request(req, deps.paging, kCursorKind);
    if (!q.page.after.empty()) {
      int64_t position = 0;
      const auto& a = q.page.after;
      auto [ptr, ec] = std::from_chars(a.data(), a.data() + a.size(), position);
      if (ec != std::errc() || ptr != a.data() + a.size()) {
        core::bad_request("page: not a valid paging key for segments");
      }
    }
    const auto result = deps.segments.list(req.path_params[0], q, req.base_url);
    const size_t count = result->count;
    Response res = http::json_text_response(200, result->json);
    add_paging_headers(req, res, kCursorKind, result->next, q.page.limit);
    res.set_header("X-Paging-Count", std::to_string(count));
    res.set_header("X-Paging-Timerange", result->paging_timerange.to_string());
    res.set_header("X-Paging-Reverse-Order", q.reverse_order ? "true" : "false");
    return res;
  });
  router.add(Method::kPost, "/flows/{flowId}/segments", [&deps](Request& req) {
    auto failures = deps.segments.add(req.path_params[0], json_body(req));
    if (failures.empty()) {
      Response r;
      r.status = 201;
      return r;
    }
    bj::array failed;
    for (auto& f : failures) {
      bj::object item{{"object_id", f.object_id}};
      if (!f.timerange.empty()) item["timerange"] = f.timerange;
      item["error"] = bj::object{{"type", "bad_request"}, {"summary", f.summary},
                                 {"time", core::now_rfc3339()}};
      failed.push_back(std::move(item));
    }
    return http::json_response(200, bj::object{{"failed_segments", std::move(failed)}});
  });
  router.add(Method::kPost, "/flows/{flowId}/storage", [&deps](Request& req) {
    // The body is optional: none means {}.
    std::optional<bj::value> body;
    if (!req.body.empty()) body = json_body(req);
    return http::json_response(
        201, deps.storage.allocate(req.path_params[0], body ? &*body : nullptr, req.base_url));
  });
}

}  // namespace tams::api
