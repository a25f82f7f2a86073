#include "tams/store/document_fields.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <climits>
#include <stdexcept>
#include <tuple>

namespace tams::store {

Document parse_document(const std::string& text, std::string_view kind, std::string_view id) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    throw std::runtime_error("stored document of " + std::string(kind) + " '" + std::string(id) +
                             "' is not a JSON object");
  }
  return std::move(value.as_object());
}

std::string_view required_string(const Document& doc, std::string_view key,
                                 std::string_view operation) {
  const boost::json::value* value = doc.if_contains(key);
  if (value == nullptr || !value->is_string()) {
    throw std::invalid_argument(std::string(operation) + ": the document has no string \"" +
                                std::string(key) + "\"");
  }
  return value->get_string();
}

std::optional<std::string_view> optional_string(const Document& doc, std::string_view key) {
  const boost::json::value* value = doc.if_contains(key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return std::string_view(value->get_string());
}

std::optional<int64_t> optional_integer(const boost::json::object* object, std::string_view key) {
  if (object == nullptr) return std::nullopt;
  const boost::json::value* value = object->if_contains(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64() && value->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(value->get_uint64());
  }
  return std::nullopt;
}

const boost::json::object* video_essence(const Document& flow, std::string_view format) {
  const boost::json::value* essence =
      format == "urn:x-nmos:format:video" ? flow.if_contains("essence_parameters") : nullptr;
  return essence != nullptr ? essence->if_object() : nullptr;
}

int64_t rows_for_page(int64_t limit, std::string_view operation) {
  if (limit < 1) throw std::invalid_argument(std::string(operation) + ": limit must be at least 1");
  return std::min<int64_t>(limit, INT64_MAX - 1) + 1;
}

namespace {

// A keyset position of a segment listing: a decimal int64.
int64_t parse_segment_position(const std::string& text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) {
    throw std::invalid_argument("list_segments: page position \"" + text +
                                "\" is not a segment start");
  }
  return value;
}

}  // namespace

SegmentPageBounds segment_page_bounds(const SegmentQuery& query) {
  SegmentPageBounds b;
  const time::TimeRange& range = query.timerange;
  if (range.is_empty()) {
    b.empty = true;
    return b;
  }
  const std::optional<int64_t> after =
      query.page.after.empty() ? std::nullopt
                               : std::optional(parse_segment_position(query.page.after));
  b.highest = range.end();
  if (query.reverse_order && after) b.highest = std::min(b.highest, *after);
  if (!query.reverse_order && after) {
    if (*after == INT64_MAX) {
      b.empty = true;
      return b;
    }
    b.floor = *after + 1;
    if (*after >= range.start()) {
      // Continuing forwards from a segment that started at or after range.start: no segment
      // before it is wanted, so the edge segment needs no look-up.
      b.lowest = b.floor;
      return b;
    }
  }
  b.lowest = std::max(range.start(), b.floor);
  if (range.has_start()) b.edge_point = range.start();
  return b;
}

std::optional<std::pair<int64_t, int64_t>> segment_page_window(
    const SegmentQuery& query, const SegmentStartingBefore& starting_before) {
  const SegmentPageBounds b = segment_page_bounds(query);
  if (b.empty) return std::nullopt;
  int64_t lowest = b.lowest;
  if (b.edge_point) {
    const auto edge = starting_before(*b.edge_point);
    if (edge && edge->second > *b.edge_point) lowest = std::max(edge->first, b.floor);
  }
  if (lowest >= b.highest) return std::nullopt;
  return std::make_pair(lowest, b.highest);
}

std::vector<DeletionRequestRecord> oldest_first(
    std::vector<std::pair<std::string, DeletionRequestRecord>> claimed) {
  std::sort(claimed.begin(), claimed.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.second.id) < std::tie(b.first, b.second.id);
  });
  std::vector<DeletionRequestRecord> requests;
  requests.reserve(claimed.size());
  for (auto& entry : claimed) requests.push_back(std::move(entry.second));
  return requests;
}

}  // namespace tams::store
