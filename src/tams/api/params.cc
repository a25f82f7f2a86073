#include "tams/api/params.h"

#include <boost/json/parse.hpp>
#include <charconv>

#include "tams/core/error.h"
#include "tams/core/ids.h"
#include "tams/http/percent.h"

namespace tams::api {

namespace bj = boost::json;
using core::bad_request;

bj::value json_body(const http::Request& request) {
  if (request.body.empty()) bad_request("a JSON request body is required");
  boost::system::error_code ec;
  bj::value v = bj::parse(request.body, ec);
  if (ec) bad_request("request body is not valid JSON: " + ec.message());
  return v;
}

std::optional<bool> bool_param(const http::Request& request, std::string_view name) {
  auto v = request.param(name);
  if (!v) return std::nullopt;
  if (*v == "true") return true;
  if (*v == "false") return false;
  bad_request(std::string(name) + ": expected true or false, got \"" + std::string(*v) + "\"");
}

std::optional<int64_t> int_param(const http::Request& request, std::string_view name) {
  auto v = request.param(name);
  if (!v) return std::nullopt;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (v->empty() || ec != std::errc() || ptr != v->data() + v->size() || out < 0) {
    bad_request(std::string(name) + ": expected a non-negative integer, got \"" + std::string(*v) +
                "\"");
  }
  return out;
}

std::optional<time::TimeRange> timerange_param(const http::Request& request,
                                               std::string_view name) {
  auto v = request.param(name);
  if (!v) return std::nullopt;
  std::string error;
  auto range = time::TimeRange::parse(*v, &error);
  if (!range) bad_request(std::string(name) + ": " + error);
  return range;
}

std::optional<std::string> id_param(const http::Request& request, std::string_view name) {
  auto v = request.param(name);
  if (!v) return std::nullopt;
  if (!core::is_valid_id(*v)) {
    bad_request(std::string(name) + ": \"" + std::string(*v) + "\" is not a valid id");
  }
  return std::string(*v);
}

std::optional<std::string> format_param(const http::Request& request) {
  static constexpr std::string_view kFormats[] = {
      "urn:x-nmos:format:video", "urn:x-tam:format:image", "urn:x-nmos:format:audio",
      "urn:x-nmos:format:data", "urn:x-nmos:format:multi"};
  auto v = request.param("format");
  if (!v) return std::nullopt;
  for (auto f : kFormats) {
    if (*v == f) return std::string(*v);
  }
  bad_request("format: \"" + std::string(*v) + "\" is not a TAMS content format");
}

store::TagFilters tag_filters(const http::Request& request) {
  store::TagFilters filters;
  for (const auto& p : request.query_params) {
    // Tag names may contain '.', so only the first '.' separates the prefix.
    if (p.name.starts_with("tag.") && p.name.size() > 4) {
      filters.equals.emplace_back(p.name.substr(4), p.value);
    } else if (p.name.starts_with("tag_exists.") && p.name.size() > 11) {
      bool exists;
      if (p.value == "true") exists = true;
      else if (p.value == "false") exists = false;
      else bad_request(p.name + ": expected true or false, got \"" + p.value + "\"");
      filters.exists.emplace_back(p.name.substr(11), exists);
    }
  }
  return filters;
}

model::PageRequest page_request(const http::Request& request, const PagingLimits& limits,
                                std::string_view cursor_kind) {
  model::PageRequest page;
  page.limit = limits.default_limit;
  if (auto v = request.param("limit")) {
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (v->empty() || ec != std::errc() || ptr != v->data() + v->size() || n < 1 ||
        n > INT32_MAX) {
      bad_request("limit: expected an integer from 1 to 2147483647, got \"" + std::string(*v) +
                  "\"");
    }
    page.limit = std::min(n, limits.max_limit);
  }
  if (auto v = request.param("page")) {
    auto position = model::decode_cursor(cursor_kind, *v);
    if (!position) bad_request("page: \"" + std::string(*v) + "\" is not a valid paging key");
    page.after = std::move(*position);
  }
  return page;
}

void add_paging_headers(const http::Request& request, http::Response& response,
                        std::string_view cursor_kind, const std::string& next_position,
                        int64_t limit) {
  response.set_header("X-Paging-Limit", std::to_string(limit));
  if (next_position.empty()) return;
  const std::string cursor = model::encode_cursor(cursor_kind, next_position);
  response.set_header("X-Paging-NextKey", cursor);
  // Keep every other parameter exactly as the client wrote it; replace `page`.
  std::string query;
  std::string_view rest = request.query;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto name = http::percent_decode(pair.substr(0, pair.find('=')), true);
    if (name && *name == "page") continue;
    query.append(pair).append("&");
  }
  query.append("page=").append(cursor);
  response.set_header("Link", "<" + request.base_url + std::string(request.path) + "?" + query +
                                  ">; rel=\"next\"");
}

}  // namespace tams::api
