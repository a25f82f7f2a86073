// The WHERE fragments of the source and flow listings and the code that picks them from a filter,
// shared by the SQLite and PostgreSQL stores: the SQL text is the same for both, with '?' for
// each parameter (SQLite numbers them in order; the PostgreSQL store turns each into the next $n).
#pragma once

#include <string_view>

#include "tams/store/metadata_store.h"

namespace tams::store::listing {

constexpr std::string_view kSourceLabelIs = " AND label = ?";
constexpr std::string_view kSourceFormatIs = " AND format = ?";
constexpr std::string_view kSourceTagIs =
    " AND EXISTS (SELECT 1 FROM source_tags t WHERE t.source_id = sources.id AND t.name = ? "
    "AND t.value = ?)";
constexpr std::string_view kSourceTagExists =
    " AND EXISTS (SELECT 1 FROM source_tags t WHERE t.source_id = sources.id AND t.name = ?)";
constexpr std::string_view kSourceTagMissing =
    " AND NOT EXISTS (SELECT 1 FROM source_tags t WHERE t.source_id = sources.id AND t.name = ?)";

constexpr std::string_view kFlowSourceIs = " AND source_id = ?";
constexpr std::string_view kFlowFormatIs = " AND format = ?";
constexpr std::string_view kFlowCodecIs = " AND codec = ?";
constexpr std::string_view kFlowLabelIs = " AND label = ?";
constexpr std::string_view kFlowFrameWidthIs = " AND frame_width = ?";
constexpr std::string_view kFlowFrameHeightIs = " AND frame_height = ?";
constexpr std::string_view kFlowTagIs =
    " AND EXISTS (SELECT 1 FROM flow_tags t WHERE t.flow_id = flows.id AND t.name = ? "
    "AND t.value = ?)";
constexpr std::string_view kFlowTagExists =
    " AND EXISTS (SELECT 1 FROM flow_tags t WHERE t.flow_id = flows.id AND t.name = ?)";
constexpr std::string_view kFlowTagMissing =
    " AND NOT EXISTS (SELECT 1 FROM flow_tags t WHERE t.flow_id = flows.id AND t.name = ?)";
constexpr std::string_view kFlowHasNoSegments =
    " AND NOT EXISTS (SELECT 1 FROM segments s WHERE s.flow_id = flows.id)";
constexpr std::string_view kFlowHasSegments =
    " AND EXISTS (SELECT 1 FROM segments s WHERE s.flow_id = flows.id)";
// Parameters: query start, query end. The last segment starting before the query end is the
// only candidate: segments do not overlap, so it overlaps [start, end) iff it ends after start.
// One seek on the segments primary key per flow; NULL (no such segment) filters the flow out.
constexpr std::string_view kFlowHasSegmentOverlapping =
    " AND (SELECT s.end_ns > ? FROM segments s WHERE s.flow_id = flows.id AND s.start_ns < ? "
    "ORDER BY s.start_ns DESC LIMIT 1)";

// Page fragments shared by both listings: keyset on id, one extra row to detect a next page.
constexpr std::string_view kListAfterId = " AND id > ?";
constexpr std::string_view kListOrderByIdLimit = " ORDER BY id LIMIT ?";

// Appends the fragments and values of `filter` to a store's Listing, which offers
// where(fragment), where(fragment, value) and where(fragment, value, value).
template <class Listing>
void add_tag_filters(Listing& listing, const TagFilters& tags, std::string_view is,
                     std::string_view exists, std::string_view missing) {
  for (const auto& [name, value] : tags.equals) listing.where(is, name, value);
  for (const auto& [name, present] : tags.exists) listing.where(present ? exists : missing, name);
}

template <class Listing>
void add_source_filters(Listing& listing, const SourceFilter& filter) {
  if (filter.label) listing.where(kSourceLabelIs, *filter.label);
  if (filter.format) listing.where(kSourceFormatIs, *filter.format);
  add_tag_filters(listing, filter.tags, kSourceTagIs, kSourceTagExists, kSourceTagMissing);
}

template <class Listing>
void add_flow_filters(Listing& listing, const FlowFilter& filter) {
  if (filter.source_id) listing.where(kFlowSourceIs, *filter.source_id);
  if (filter.format) listing.where(kFlowFormatIs, *filter.format);
  if (filter.codec) listing.where(kFlowCodecIs, *filter.codec);
  if (filter.label) listing.where(kFlowLabelIs, *filter.label);
  if (filter.frame_width) listing.where(kFlowFrameWidthIs, *filter.frame_width);
  if (filter.frame_height) listing.where(kFlowFrameHeightIs, *filter.frame_height);
  add_tag_filters(listing, filter.tags, kFlowTagIs, kFlowTagExists, kFlowTagMissing);
  if (!filter.timerange) return;
  const time::TimeRange& range = *filter.timerange;
  if (range.is_empty()) {
    listing.where(kFlowHasNoSegments);
  } else if (range.is_eternity()) {
    listing.where(kFlowHasSegments);
  } else {
    listing.where(kFlowHasSegmentOverlapping, range.start(), range.end());
  }
}

}  // namespace tams::store::listing
