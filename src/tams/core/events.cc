#include "tams/core/events.h"

#include <algorithm>
#include <boost/json/array.hpp>

#include "tams/core/clock.h"
#include "tams/core/flows.h"
#include "tams/core/sources.h"
#include "tams/time/timerange.h"

namespace tams::core {

namespace bj = boost::json;

namespace {

std::string text(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

bj::array to_array(const std::vector<std::string>& items) {
  bj::array out;
  for (const auto& item : items) out.push_back(bj::string(item));
  return out;
}

std::vector<std::string> from_array(const bj::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (const auto* v = o.if_contains(key); v && v->is_array()) {
    for (const auto& item : v->as_array()) {
      if (item.is_string()) out.emplace_back(item.as_string());
    }
  }
  return out;
}

std::optional<bj::object> decorated_flow(store::Reader& reader, const std::string& id) {
  auto flow = reader.get_flow(id);
  if (flow) Flows::decorate(reader, *flow);
  return flow;
}

std::optional<bj::object> decorated_source(store::Reader& reader, const std::string& id) {
  auto source = reader.get_source(id);
  if (source) Sources::decorate(reader, *source);
  return source;
}

}  // namespace

bool is_event_type(std::string_view type) {
  return std::find(kEventTypes.begin(), kEventTypes.end(), type) != kEventTypes.end();
}

bj::object EventSubject::to_json() const {
  bj::object out;
  if (!flow_id.empty()) {
    out["flow_id"] = flow_id;
    out["flow_collected_by"] = to_array(flow_collected_by);
  }
  out["source_id"] = source_id;
  out["source_collected_by"] = to_array(source_collected_by);
  return out;
}

EventSubject EventSubject::from_json(const bj::object& subject) {
  EventSubject s;
  s.flow_id = text(subject, "flow_id");
  s.source_id = text(subject, "source_id");
  s.flow_collected_by = from_array(subject, "flow_collected_by");
  s.source_collected_by = from_array(subject, "source_collected_by");
  return s;
}

EventSubject flow_subject(store::Reader& reader, const bj::object& flow) {
  EventSubject s;
  s.flow_id = text(flow, "id");
  s.source_id = text(flow, "source_id");
  s.flow_collected_by = reader.flow_collected_by(s.flow_id);
  if (!s.source_id.empty()) s.source_collected_by = reader.source_collected_by(s.source_id);
  return s;
}

EventSubject source_subject(store::Reader& reader, const std::string& source_id) {
  EventSubject s;
  s.source_id = source_id;
  s.source_collected_by = reader.source_collected_by(source_id);
  return s;
}

EventWriter::EventWriter(store::WriteTransaction& tx)
    : tx_(tx), active_(tx.webhooks_registered()) {}

void EventWriter::add(std::string_view type, const EventSubject& subject, bj::object payload) {
  store::EventRecord event;
  event.type = std::string(type);
  event.timestamp = now_rfc3339();
  event.subject = subject.to_json();
  event.payload = std::move(payload);
  tx_.add_event(event);
}

void EventWriter::flow_created(const bj::object& flow) {
  if (!active_) return;
  add(kFlowsCreated, flow_subject(tx_, flow), bj::object{{"flow", flow}});
}

void EventWriter::flow_updated(const bj::object& flow) {
  if (!active_) return;
  add(kFlowsUpdated, flow_subject(tx_, flow), bj::object{{"flow", flow}});
}

void EventWriter::flow_deleted(const EventSubject& subject) {
  if (!active_) return;
  add(kFlowsDeleted, subject, bj::object{{"flow_id", subject.flow_id}});
}

void EventWriter::segments_added(const bj::object& flow,
                                 const std::vector<std::pair<bj::object, std::string>>& segments) {
  if (!active_ || segments.empty()) return;
  bj::array items;
  for (const auto& [doc, storage_id] : segments) {
    items.push_back(bj::object{{"segment", doc}, {"storage_id", storage_id}});
  }
  add(kFlowsSegmentsAdded, flow_subject(tx_, flow),
      bj::object{{"flow_id", text(flow, "id")}, {"segments", std::move(items)}});
}

void EventWriter::segments_deleted(const bj::object& flow,
                                   const std::vector<store::SegmentRecord>& deleted) {
  if (!active_ || deleted.empty()) return;
  const auto& first_record = deleted.front();
  const auto& last_record = deleted.back();
  auto first = time::TimeRange::half_open(first_record.start_ns, first_record.end_ns);
  auto last = time::TimeRange::half_open(last_record.start_ns, last_record.end_ns);
  // The stored timeranges keep the client's markers, so the extent's ends are the segments' own.
  if (auto f = time::TimeRange::parse(text(first_record.doc, "timerange"))) first = *f;
  if (auto l = time::TimeRange::parse(text(last_record.doc, "timerange"))) last = *l;
  add(kFlowsSegmentsDeleted, flow_subject(tx_, flow),
      bj::object{{"flow_id", text(flow, "id")}, {"timerange", first.extent(last).to_string()}});
}

void EventWriter::source_created(const std::string& source_id) {
  if (!active_) return;
  if (auto source = decorated_source(tx_, source_id)) {
    add(kSourcesCreated, source_subject(tx_, source_id), bj::object{{"source", *source}});
  }
}

void EventWriter::source_updated(const std::string& source_id) {
  if (!active_) return;
  if (auto source = decorated_source(tx_, source_id)) {
    add(kSourcesUpdated, source_subject(tx_, source_id), bj::object{{"source", *source}});
  }
}

void EventWriter::source_deleted(const EventSubject& subject) {
  if (!active_) return;
  add(kSourcesDeleted, subject, bj::object{{"source_id", subject.source_id}});
}

void CollectionWatch::watch_flow_id(const std::string& id) {
  for (const auto& [known, doc] : flows_) {
    if (known == id) return;
  }
  flows_.emplace_back(id, decorated_flow(tx_, id));
}

void CollectionWatch::watch_source_id(const std::string& id) {
  if (id.empty()) return;
  for (const auto& [known, doc] : sources_) {
    if (known == id) return;
  }
  sources_.emplace_back(id, decorated_source(tx_, id));
}

void CollectionWatch::watch(const bj::object& flow) {
  if (!events_.active()) return;
  watch_source_id(text(flow, "source_id"));
  if (const auto* members = flow.if_contains("flow_collection"); members && members->is_array()) {
    for (const auto& item : members->as_array()) {
      if (!item.is_object()) continue;
      const std::string member = text(item.as_object(), "id");
      if (member.empty()) continue;
      watch_flow_id(member);
      if (auto member_flow = tx_.get_flow(member)) watch_source_id(text(*member_flow, "source_id"));
    }
  }
  for (const auto& collector : tx_.flow_collected_by(text(flow, "id"))) {
    if (auto collector_flow = tx_.get_flow(collector)) {
      watch_source_id(text(*collector_flow, "source_id"));
    }
  }
}

void CollectionWatch::finish(const std::vector<std::string>& skip_flows) {
  if (!events_.active()) return;
  for (const auto& [id, before] : flows_) {
    if (!before || std::find(skip_flows.begin(), skip_flows.end(), id) != skip_flows.end()) {
      continue;
    }
    auto after = decorated_flow(tx_, id);
    if (after && *after != *before) events_.flow_updated(*after);
  }
  for (const auto& [id, before] : sources_) {
    if (!before) continue;
    auto after = decorated_source(tx_, id);
    if (after && *after != *before) events_.source_updated(id);
  }
}

}  // namespace tams::core
