// Helpers shared by the MetadataStore implementations: stored documents and the columns derived
// from them, and the keyset arithmetic of segment pages. Pure functions; no SQL.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tams/store/metadata_store.h"

namespace tams::store {

// Parses a stored document. Throws std::runtime_error naming `kind` and `id` when the text is
// not a JSON object (a damaged database).
Document parse_document(const std::string& text, std::string_view kind, std::string_view id);

// doc[key] as a string. Throws std::invalid_argument naming `operation` when it is missing or
// not a string.
std::string_view required_string(const Document& doc, std::string_view key,
                                 std::string_view operation);
// doc[key] when it is a string, else nullopt.
std::optional<std::string_view> optional_string(const Document& doc, std::string_view key);
// object[key] when it is an integer representable as int64, else nullopt (also for a null
// object).
std::optional<int64_t> optional_integer(const boost::json::object* object, std::string_view key);

// The essence_parameters of a flow whose frame_width / frame_height are filter columns: only
// video flows (the spec's query parameter text), so image flows get no filter columns.
const boost::json::object* video_essence(const Document& flow, std::string_view format);

// Rows to fetch for a page of `limit` items: one more tells whether a next page exists. Throws
// std::invalid_argument naming `operation` when limit < 1.
int64_t rows_for_page(int64_t limit, std::string_view operation);

// The start (start_ns, end_ns) of the last segment starting before a point, or nullopt.
using SegmentStartingBefore =
    std::function<std::optional<std::pair<int64_t, int64_t>>(int64_t point)>;

// The page of `query` is the segments whose start lies in the returned [lowest, highest), walked
// from the lowest (or, for reverse_order, the highest) end; nullopt when the page is empty.
// Overlapping [range.start, range.end) means starting before range.end, and either starting at
// or after range.start or being the one segment that starts before range.start and reaches past
// it (segments do not overlap, so only the last one starting before it can); `starting_before`
// finds that one with a seek, and is only called when needed. Throws std::invalid_argument when
// query.page.after is not a segment start.
std::optional<std::pair<int64_t, int64_t>> segment_page_window(
    const SegmentQuery& query, const SegmentStartingBefore& starting_before);

// segment_page_window before the look-up of the edge segment, for a store that does the look-up
// inside its page query (one statement): the page is the segments starting in
// [lowest', highest), where lowest' is `lowest`, or, when `edge_point` is set and the last
// segment starting before it ends after it, max(that segment's start, floor).
struct SegmentPageBounds {
  bool empty = false;  // nothing can match, whatever the edge: no query needed
  std::optional<int64_t> edge_point;
  int64_t floor = INT64_MIN;
  int64_t lowest = INT64_MIN;
  int64_t highest = INT64_MAX;
};
SegmentPageBounds segment_page_bounds(const SegmentQuery& query);

// Claimed deletion requests, each with its `created` column (RETURNING gives no order), in the
// order claim_deletion_requests returns them: by `created`, then id.
std::vector<DeletionRequestRecord> oldest_first(
    std::vector<std::pair<std::string, DeletionRequestRecord>> claimed);

}  // namespace tams::store
