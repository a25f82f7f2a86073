// A segment as a listing (GET /flows/{id}/segments) sends it: the stored document with its
// get_urls, written straight into the response text.
#pragma once

#include <string>

#include "tams/core/get_urls.h"
#include "tams/store/metadata_store.h"
#include "tams/time/timerange.h"

namespace tams::core {

// Appends `segment` (from list_segments: doc_json set) to `out` as JSON: its document with
// "get_urls" set from build_get_urls. A document without client get_urls (the common case) is
// copied as stored and the get_urls member spliced in before its closing brace, never parsed;
// one with client URLs is parsed, since those are filtered and reshaped. May fill segment.doc.
// Thread-safe.
void append_listed_segment(std::string& out, store::SegmentRecord& segment,
                           const media::Backends& backends, const GetUrlsFilter& filter,
                           const std::string& base_url);

// The segment's timerange as written in its document (which may say more than start_ns and
// end_ns, e.g. an inclusive end); from start_ns/end_ns when the document has none.
time::TimeRange listed_timerange(const store::SegmentRecord& segment);

}  // namespace tams::core
