// MetadataStore: where sources, flows and service settings live. Implemented by sqlite/ (the
// embedded default) and, later, postgres/. Only store/ speaks SQL.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tams/model/paging.h"
#include "tams/time/timerange.h"

namespace tams::store {

// Documents are the JSON objects of the API (source.json, flow.json) as stored: every
// client-settable and server-managed property, but not the computed ones (a flow's
// `collected_by` and `timerange`, a source's `source_collection` and `collected_by`), which the
// store answers separately.
using Document = boost::json::object;

struct TagFilters {
  std::vector<std::pair<std::string, std::string>> equals;  // tag.{name}={value}
  std::vector<std::pair<std::string, bool>> exists;         // tag_exists.{name}={bool}
};

struct SourceFilter {
  std::optional<std::string> label;
  std::optional<std::string> format;
  TagFilters tags;
};

struct FlowFilter {
  std::optional<std::string> source_id;
  std::optional<std::string> format;
  std::optional<std::string> codec;
  std::optional<std::string> label;
  std::optional<int64_t> frame_width;
  std::optional<int64_t> frame_height;
  TagFilters tags;
  // Flows with a segment overlapping this range; the empty range selects flows with no
  // segments at all. Unset: no timeline filtering.
  std::optional<time::TimeRange> timerange;
};

struct CollectionMember {
  std::string id;
  std::string role;
};

// Read access. Implementations are used by one thread at a time (each reader is handed out for
// the duration of one read() or write() call).
class Reader {
 public:
  virtual ~Reader() = default;

  virtual std::optional<Document> get_source(const std::string& id) = 0;
  virtual std::optional<Document> get_flow(const std::string& id) = 0;

  // Items in ascending id order strictly after page.after (an id; empty = from the start), at most
  // page.limit of them; `next` is set (to the last id returned) when more items follow.
  virtual model::Page<Document> list_sources(const SourceFilter& filter,
                                             const model::PageRequest& page) = 0;
  virtual model::Page<Document> list_flows(const FlowFilter& filter,
                                           const model::PageRequest& page) = 0;

  // Ids of the flows whose flow_collection lists `flow_id`, ascending.
  virtual std::vector<std::string> flow_collected_by(const std::string& flow_id) = 0;
  // The sources of the members of the collections of this source's flows, with the members'
  // roles, ordered by source id then role, without duplicates.
  virtual std::vector<CollectionMember> source_collection(const std::string& source_id) = 0;
  // Ids of the sources of the flows that collect any flow of this source, ascending.
  virtual std::vector<std::string> source_collected_by(const std::string& source_id) = 0;
  // The `timerange` strings of the first and the last segment of the flow that overlap `range`,
  // in timeline order, or nullopt when none does (or the range is empty). A few index seeks,
  // whatever the number of segments.
  virtual std::optional<std::pair<std::string, std::string>> segment_bounds(
      const std::string& flow_id, const time::TimeRange& range) = 0;
  // Number of flows whose source_id is `source_id`.
  virtual int64_t count_flows_of_source(const std::string& source_id) = 0;

  // A service-level setting (e.g. "name", "description"), or nullopt when unset.
  virtual std::optional<std::string> get_setting(const std::string& key) = 0;
};

// Read and write access inside one transaction. Writes become visible to others only when the
// transaction commits.
class WriteTransaction : public Reader {
 public:
  // Inserts or replaces the source with doc["id"]; keeps the tag index in step with doc["tags"].
  virtual void put_source(const Document& source) = 0;
  virtual void delete_source(const std::string& id) = 0;
  // Inserts or replaces the flow with doc["id"]; keeps the filter columns, tag index and
  // collection index in step with the document.
  virtual void put_flow(const Document& flow) = 0;
  // Removes the flow, its tags and its collection rows (as collector). Rows naming it as a member
  // of other flows' collections are left to the caller (core removes them from those documents).
  virtual void delete_flow(const std::string& id) = 0;
  virtual void put_setting(const std::string& key, const std::string& value) = 0;
};

// The metadata store. Thread-safe: any number of threads may call read() and write()
// concurrently; writes are serialized.
class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // Runs `fn` with a consistent snapshot. Exceptions from `fn` propagate.
  virtual void read(const std::function<void(Reader&)>& fn) = 0;

  // Runs `fn` inside one write transaction: commits durably when `fn` returns, rolls back
  // everything `fn` wrote when it throws (and rethrows). Nothing is partially written.
  virtual void write(const std::function<void(WriteTransaction&)>& fn) = 0;
};

}  // namespace tams::store
