#include "tams/core/listed_segment.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string_view>

#include "tams/core/flow_document.h"

namespace tams::core {

namespace bj = boost::json;

namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The stored text up to (not including) the object's closing brace, surrounding space dropped.
std::string_view without_closing_brace(std::string_view text) {
  while (!text.empty() && is_json_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_json_space(text.back())) text.remove_suffix(1);
  if (!text.empty() && text.back() == '}') text.remove_suffix(1);
  while (!text.empty() && is_json_space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

void append_listed_segment(std::string& out, store::SegmentRecord& segment,
                           const media::Backends& backends, const GetUrlsFilter& filter,
                           const std::string& base_url) {
  const std::string_view text = segment.doc_json;
  // A "get_urls" member is written as exactly this token (our serializer escapes nothing in
  // it), so its absence from the text proves the document has no client URLs. Its presence
  // may be a false alarm (the characters inside a string value): then the slow path is merely
  // slower, never wrong.
  if (segment.doc.empty() && text.find("\"get_urls\"") == std::string_view::npos) {
    const std::string_view head = without_closing_brace(text);
    if (!head.empty() && head.front() == '{') {
      out += head;
      if (head.size() > 1) out += ',';
      out += "\"get_urls\":";
      out += bj::serialize(build_get_urls(segment, backends, filter, base_url));
      out += '}';
      return;
    }
  }
  if (segment.doc.empty() && !text.empty()) segment.doc = bj::parse(text).as_object();
  // get_urls first: they read the client's URLs from the document.
  bj::array urls = build_get_urls(segment, backends, filter, base_url);
  bj::object doc = std::move(segment.doc);
  doc["get_urls"] = std::move(urls);
  out += bj::serialize(doc);
}

time::TimeRange listed_timerange(const store::SegmentRecord& segment) {
  auto from = [&segment](const bj::object& doc) {
    const std::string_view text = string_member(doc, "timerange");
    std::optional<time::TimeRange> range;
    if (!text.empty()) range = time::TimeRange::parse(text);
    return range.value_or(time::TimeRange::half_open(segment.start_ns, segment.end_ns));
  };
  if (!segment.doc.empty()) return from(segment.doc);
  boost::system::error_code ec;
  const bj::value doc = bj::parse(segment.doc_json, ec);
  return from(!ec && doc.is_object() ? doc.as_object() : bj::object());
}

}  // namespace tams::core
