// Events for webhooks: the eight 7.0 event types, written into the store's outbox inside the
// transaction of the change they describe (so an event exists iff its change committed).
#pragma once

#include <array>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tams/store/metadata_store.h"

namespace tams::core {

inline constexpr std::string_view kFlowsCreated = "flows/created";
inline constexpr std::string_view kFlowsUpdated = "flows/updated";
inline constexpr std::string_view kFlowsDeleted = "flows/deleted";
inline constexpr std::string_view kFlowsSegmentsAdded = "flows/segments_added";
inline constexpr std::string_view kFlowsSegmentsDeleted = "flows/segments_deleted";
inline constexpr std::string_view kSourcesCreated = "sources/created";
inline constexpr std::string_view kSourcesUpdated = "sources/updated";
inline constexpr std::string_view kSourcesDeleted = "sources/deleted";

// The eight event types of 7.0, in the spec's order.
inline constexpr std::array<std::string_view, 8> kEventTypes = {
    kFlowsCreated,         kFlowsUpdated,   kFlowsDeleted,   kFlowsSegmentsAdded,
    kFlowsSegmentsDeleted, kSourcesCreated, kSourcesUpdated, kSourcesDeleted};

bool is_event_type(std::string_view type);

// What a registration's filters look at, taken when the event is written (a deleted flow's
// collections are those it had just before). Stored as the event's `subject`:
// {"flow_id", "source_id", "flow_collected_by": [...], "source_collected_by": [...]}; flow_id and
// flow_collected_by are absent for source events.
struct EventSubject {
  std::string flow_id;  // empty for source events
  std::string source_id;
  std::vector<std::string> flow_collected_by;
  std::vector<std::string> source_collected_by;

  boost::json::object to_json() const;
  static EventSubject from_json(const boost::json::object& subject);
};

// The subject of an event about this flow (a stored flow document) / this source.
EventSubject flow_subject(store::Reader& reader, const boost::json::object& flow);
EventSubject source_subject(store::Reader& reader, const std::string& source_id);

// Writes events into the outbox of one write transaction. Whether any webhook is registered is
// asked once, on construction; when none is, every method returns at once (no event is written
// and no subject is computed), so the write paths cost one indexed look-up more than before.
//
// Payloads are stored in an internal form that core::render_event turns into the body sent:
// {"flow": Flow}, {"flow_id"}, {"flow_id", "timerange"}, {"source": Source}, {"source_id"} as in
// the spec, and for segments_added {"flow_id", "segments": [{"segment": stored doc,
// "storage_id": backend or ""}]}, whose get_urls are built per registration at delivery time.
class EventWriter {
 public:
  explicit EventWriter(store::WriteTransaction& tx);

  bool active() const { return active_; }

  // `flow` as GET returns it (decorated).
  void flow_created(const boost::json::object& flow);
  void flow_updated(const boost::json::object& flow);
  // `subject` taken before the deletion.
  void flow_deleted(const EventSubject& subject);
  // Stored segment documents with the storage backend holding each object ("" if external).
  void segments_added(const boost::json::object& flow,
                      const std::vector<std::pair<boost::json::object, std::string>>& segments);
  // One deletion batch of the flow (in timeline order): the event's timerange runs from the
  // start of the first to the end of the last, so both ends lie inside deleted segments.
  void segments_deleted(const boost::json::object& flow,
                        const std::vector<store::SegmentRecord>& deleted);
  // The source as it is now in the transaction (loaded and decorated here).
  void source_created(const std::string& source_id);
  void source_updated(const std::string& source_id);
  void source_deleted(const EventSubject& subject);

 private:
  void add(std::string_view type, const EventSubject& subject, boost::json::object payload);

  store::WriteTransaction& tx_;
  bool active_ = false;
};

// Emits flows/updated and sources/updated for the flows and sources whose computed collection
// properties (a flow's collected_by, a source's source_collection and collected_by) a change of
// flows alters. Before the change, watch() each flow document involved (old and new versions):
// its members, their sources, its own source and its collectors' sources become candidates, and
// their documents are recorded. After the change, finish() emits an update for every candidate
// whose document differs; one missing before or after (created or deleted by the change, which
// has its own event) is skipped, as are the flows in `skip_flows`.
class CollectionWatch {
 public:
  CollectionWatch(EventWriter& events, store::WriteTransaction& tx) : events_(events), tx_(tx) {}

  void watch(const boost::json::object& flow);
  void finish(const std::vector<std::string>& skip_flows = {});

 private:
  void watch_flow_id(const std::string& id);
  void watch_source_id(const std::string& id);

  EventWriter& events_;
  store::WriteTransaction& tx_;
  std::vector<std::pair<std::string, std::optional<boost::json::object>>> flows_;
  std::vector<std::pair<std::string, std::optional<boost::json::object>>> sources_;
};

}  // namespace tams::core
