// Reading query parameters, paths and bodies of API requests, with 400s that name the problem.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "tams/http/message.h"
#include "tams/model/paging.h"
#include "tams/store/metadata_store.h"
#include "tams/time/timerange.h"

namespace tams::api {

// Server paging limits (from the configuration).
struct PagingLimits {
  int64_t default_limit = 100;
  int64_t max_limit = 1000;
};

// The request body as JSON; kBadRequest naming the parse error when it is not JSON.
boost::json::value json_body(const http::Request& request);

// A boolean parameter ("true" / "false"); kBadRequest for anything else.
std::optional<bool> bool_param(const http::Request& request, std::string_view name);
// A non-negative integer parameter; kBadRequest for anything else.
std::optional<int64_t> int_param(const http::Request& request, std::string_view name);
// A timerange parameter in the 7.0 grammar (raw or percent-encoded); kBadRequest when malformed.
std::optional<time::TimeRange> timerange_param(const http::Request& request,
                                               std::string_view name);
// A parameter that must be a TAMS id; kBadRequest when malformed.
std::optional<std::string> id_param(const http::Request& request, std::string_view name);

// A `format` parameter: one of the five TAMS content formats; kBadRequest otherwise.
std::optional<std::string> format_param(const http::Request& request);

// tag.{name} and tag_exists.{name} parameters (the name after the first '.', decoded).
store::TagFilters tag_filters(const http::Request& request);

// `limit` and `page` of a listing whose cursors are of kind `cursor_kind`. `limit` must be an
// integer >= 1 (kBadRequest otherwise) and is reduced to the maximum; `page` must be a cursor
// this server issued for this kind of listing.
model::PageRequest page_request(const http::Request& request, const PagingLimits& limits,
                                std::string_view cursor_kind);

// Adds Link (rel="next", absolute, other parameters kept), X-Paging-NextKey and X-Paging-Limit.
// `next_position` is the keyset position of the next page (empty on the last page).
void add_paging_headers(const http::Request& request, http::Response& response,
                        std::string_view cursor_kind, const std::string& next_position,
                        int64_t limit);

}  // namespace tams::api
