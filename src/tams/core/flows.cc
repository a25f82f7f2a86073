#include "tams/core/flows.h"

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tams/core/clock.h"
#include "tams/core/error.h"
#include "tams/core/flow_document.h"
#include "tams/core/events.h"
#include "tams/core/ids.h"
#include "tams/json/schema.h"

namespace tams::core {

namespace bj = boost::json;

namespace {

// The schema of each flow format (flow.json's oneOf, selected by `format` so that errors name
// the real problem instead of "matches none of five").
constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kFormatSchemas = {{
    {"urn:x-nmos:format:video", "flow-video.json"},
    {"urn:x-tam:format:image", "flow-image.json"},
    {"urn:x-nmos:format:audio", "flow-audio.json"},
    {"urn:x-nmos:format:data", "flow-data.json"},
    {"urn:x-nmos:format:multi", "flow-multi.json"},
}};

// Properties the server manages; ignored when a client sends them (spec SHOULD, 8.x MUST for
// timerange).
constexpr std::array<std::string_view, 8> kServerManaged = {
    "created",     "metadata_updated", "segments_updated", "collected_by",
    "timerange",   "created_by",       "updated_by",       "source_collection"};


void validate(std::string_view schema, const bj::value& value, std::string_view what) {
  if (auto problem = json::SchemaSet::spec().validate(schema, value)) {
    bad_request(std::string(what) + ": " + *problem);
  }
}

// Members of a collection must be other existing flows.
void check_collection_members(store::Reader& r, const std::string& self, const bj::value& coll) {
  for (const auto& item : coll.as_array()) {
    const std::string member(item.as_object().at("id").as_string());
    if (member == self) bad_request("flow_collection: a flow cannot collect itself");
    if (!r.get_flow(member)) bad_request("flow_collection: no flow with id " + member);
  }
}

void stamp_metadata(bj::object& flow, const Principal& who, bool new_version) {
  flow["metadata_updated"] = now_rfc3339();
  flow["updated_by"] = who.name;
  if (new_version) flow["metadata_version"] = new_id();
}

}  // namespace

const char* property_name(FlowProperty property) {
  switch (property) {
    case FlowProperty::kLabel: return "label";
    case FlowProperty::kDescription: return "description";
    case FlowProperty::kReadOnly: return "read_only";
    case FlowProperty::kFlowCollection: return "flow_collection";
    case FlowProperty::kMaxBitRate: return "max_bit_rate";
    case FlowProperty::kAvgBitRate: return "avg_bit_rate";
  }
  return "?";
}

void Flows::decorate(store::Reader& reader, bj::object& flow) {
  auto collectors = reader.flow_collected_by(std::string(flow.at("id").as_string()));
  if (collectors.empty()) return;
  bj::array ids;
  for (auto& c : collectors) ids.push_back(bj::string(c));
  flow["collected_by"] = std::move(ids);
}

model::Page<bj::object> Flows::list(const store::FlowFilter& filter,
                                    const model::PageRequest& page) {
  model::Page<bj::object> result;
  store_.read([&](store::Reader& r) {
    result = r.list_flows(filter, page);
    for (auto& f : result.items) decorate(r, f);
  });
  return result;
}

std::shared_ptr<const std::string> Flows::document_json(const std::string& id) {
  auto load = [&] {
    bj::object flow;
    store_.read([&](store::Reader& r) {
      flow = load_flow(r, id);
      decorate(r, flow);
    });
    return std::make_shared<std::string>(bj::serialize(flow));
  };
  if (!cache_) return load();
  return cache_->flows().find_or_load(id, {},
                                      [&] { return cache_->fill(cache_->flows(), id, load); });
}

bj::object Flows::get(const std::string& id, bool include_timerange,
                      const time::TimeRange& limit) {
  if (!include_timerange) return bj::parse(*document_json(id)).as_object();
  bj::object flow;
  store_.read([&](store::Reader& r) {
    flow = load_flow(r, id);
    decorate(r, flow);
    {
      time::TimeRange extent;
      if (auto bounds = r.segment_bounds(id, limit)) {
        auto first = time::TimeRange::parse(bounds->first);
        auto last = time::TimeRange::parse(bounds->second);
        if (first && last) extent = first->extent(*last);
      }
      flow["timerange"] = extent.to_string();
    }
  });
  return flow;
}

Flows::PutResult Flows::put(const std::string& id, const bj::value& body, const Principal& who) {
  if (!is_valid_id(id)) bad_request("\"" + id + "\" is not a valid flow id");
  if (!body.is_object()) bad_request("the flow must be a JSON object");
  bj::object flow = body.as_object();
  if (string_member(flow, "id") != id) {
    bad_request("id in the body (\"" + std::string(string_member(flow, "id")) +
                "\") does not match the id in the path (" + id + ")");
  }
  for (auto key : kServerManaged) flow.erase(key);

  const std::string format(string_member(flow, "format"));
  std::string_view schema;
  for (auto& [f, s] : kFormatSchemas) {
    if (f == format) schema = s;
  }
  if (schema.empty()) {
    bad_request(flow.contains("format")
                    ? "format: \"" + format + "\" is not a TAMS flow format"
                    : "format: missing required property");
  }
  validate(schema, flow, "flow");

  PutResult result;
  // Collections and sources may change with the flow: every document may be affected.
  AfterWrite invalidate([this] {
    if (cache_) cache_->invalidate_all_documents();
  });
  store_.write([&](store::WriteTransaction& tx) {
    auto existing = tx.get_flow(id);
    const std::string now = now_rfc3339();
    const std::string source_id(string_member(flow, "source_id"));
    if (existing) {
      if (is_read_only(*existing)) read_only("flow " + id + " is read-only");
      if (string_member(*existing, "format") != format) {
        bad_request("format: cannot change the format of flow " + id + " from " +
                    std::string(string_member(*existing, "format")));
      }
      flow["created"] = existing->at("created");
      if (auto* c = existing->if_contains("created_by")) flow["created_by"] = *c;
      if (auto* s = existing->if_contains("segments_updated")) flow["segments_updated"] = *s;
    } else {
      flow["created"] = now;
      flow["created_by"] = who.name;
    }
    if (auto* coll = flow.if_contains("flow_collection")) check_collection_members(tx, id, *coll);

    auto source = tx.get_source(source_id);
    if (source && string_member(*source, "format") != format) {
      bad_request("format: flow format " + format + " differs from the format of source " +
                  source_id + " (" + std::string(string_member(*source, "format")) + ")");
    }
    EventWriter events(tx);
    CollectionWatch watch(events, tx);
    if (existing) watch.watch(*existing);
    watch.watch(flow);
    // The old source's subject is taken while it still has this flow, should it go.
    EventSubject old_source_subject;
    if (existing && events.active() && string_member(*existing, "source_id") != source_id) {
      old_source_subject = source_subject(tx, std::string(string_member(*existing, "source_id")));
    }
    if (!source) {
      tx.put_source(bj::object{{"id", source_id},
                               {"format", format},
                               {"created", now},
                               {"updated", now},
                               {"created_by", who.name},
                               {"updated_by", who.name}});
    }
    flow["metadata_updated"] = now;
    flow["updated_by"] = who.name;
    if (!flow.contains("metadata_version")) flow["metadata_version"] = new_id();
    tx.put_flow(flow);

    bool old_source_deleted = false;
    if (existing) {
      const std::string old_source(string_member(*existing, "source_id"));
      if (old_source != source_id && tx.count_flows_of_source(old_source) == 0) {
        tx.delete_source(old_source);
        old_source_deleted = true;
      }
    }
    result.created = !existing;
    result.flow = flow;
    decorate(tx, result.flow);
    if (!source) events.source_created(source_id);
    if (existing) {
      events.flow_updated(result.flow);
    } else {
      events.flow_created(result.flow);
    }
    watch.finish({id});
    if (old_source_deleted) events.source_deleted(old_source_subject);
  });
  return result;
}

void Flows::remove(const std::string& id, const Principal& who) {
  AfterWrite invalidate([&] {
    if (cache_) cache_->invalidate_deleted_flow(id);
  });
  store_.write([&](store::WriteTransaction& tx) {
    bj::object flow = load_writable_flow(tx, id);
    const std::string source_id(string_member(flow, "source_id"));
    EventWriter events(tx);
    CollectionWatch watch(events, tx);
    watch.watch(flow);
    // Subjects as they are before the deletion changes the collections.
    const EventSubject subject = events.active() ? flow_subject(tx, flow) : EventSubject{};
    const EventSubject source_subject_before =
        events.active() ? source_subject(tx, source_id) : EventSubject{};
    // A deleted flow leaves the collections that listed it.
    for (const auto& collector_id : tx.flow_collected_by(id)) {
      auto collector = tx.get_flow(collector_id);
      if (!collector) continue;
      bj::array kept;
      for (auto& item : collector->at("flow_collection").as_array()) {
        if (item.as_object().at("id").as_string() != id) kept.push_back(item);
      }
      (*collector)["flow_collection"] = std::move(kept);
      stamp_metadata(*collector, who, true);
      tx.put_flow(*collector);
      if (events.active()) {
        decorate(tx, *collector);
        events.flow_updated(*collector);
      }
    }
    // Normally the segments are gone already (Deletions deletes them in batches first); any
    // that arrived meanwhile go with the flow, in this transaction.
    for (;;) {
      auto deleted = tx.delete_segments(id, time::TimeRange::eternity(), std::nullopt, 10000);
      if (deleted.empty()) break;
      events.segments_deleted(flow, deleted);
    }
    tx.delete_flow(id);
    events.flow_deleted(subject);
    const bool source_gone = tx.count_flows_of_source(source_id) == 0;
    if (source_gone) tx.delete_source(source_id);
    watch.finish({id});
    if (source_gone) events.source_deleted(source_subject_before);
  });
}

template <class F>
void Flows::update(const std::string& id, const Principal& who, bool allow_read_only,
                   F&& change) {
  bool collection_changed = false;
  AfterWrite invalidate([&] {
    if (!cache_) return;
    // Another flow's collected_by, or a source's collections, follow a flow_collection change.
    if (collection_changed) {
      cache_->invalidate_all_documents();
    } else {
      cache_->invalidate_flow(id);
    }
  });
  store_.write([&](store::WriteTransaction& tx) {
    bj::object flow = load_flow(tx, id);
    if (!allow_read_only && is_read_only(flow)) read_only("flow " + id + " is read-only");
    EventWriter events(tx);
    CollectionWatch watch(events, tx);
    watch.watch(flow);
    const bj::value before_collection =
        flow.contains("flow_collection") ? flow.at("flow_collection") : bj::value();
    change(tx, flow);
    const bj::value after_collection =
        flow.contains("flow_collection") ? flow.at("flow_collection") : bj::value();
    collection_changed = before_collection != after_collection;
    watch.watch(flow);
    stamp_metadata(flow, who, true);
    tx.put_flow(flow);
    if (events.active()) {
      bj::object updated = flow;
      decorate(tx, updated);
      events.flow_updated(updated);
    }
    watch.finish({id});
  });
}

bj::object Flows::tags(const std::string& id) {
  bj::object flow = get(id);
  if (auto* t = flow.if_contains("tags"); t && t->is_object()) return t->as_object();
  return {};
}

std::string Flows::tag(const std::string& id, const std::string& name) {
  bj::object t = tags(id);
  auto* v = t.if_contains(name);
  if (!v || !v->is_string()) not_found("flow " + id + " has no tag \"" + name + "\"");
  return std::string(v->as_string());
}

void Flows::put_tag(const std::string& id, const std::string& name, const bj::value& value,
                    const Principal& who) {
  if (!value.is_string()) bad_request("a tag value must be a JSON string");
  update(id, who, false, [&](store::Reader&, bj::object& flow) {
    auto* t = flow.if_contains("tags");
    if (!t || !t->is_object()) t = &(flow["tags"] = bj::object());
    t->as_object()[name] = value.as_string();
  });
}

void Flows::delete_tag(const std::string& id, const std::string& name, const Principal& who) {
  update(id, who, false, [&](store::Reader&, bj::object& flow) {
    auto* t = flow.if_contains("tags");
    if (!t || !t->is_object() || !t->as_object().contains(name)) {
      not_found("flow " + id + " has no tag \"" + name + "\"");
    }
    t->as_object().erase(name);
  });
}

bj::value Flows::property(const std::string& id, FlowProperty property) {
  bj::object flow = get(id);
  const char* name = property_name(property);
  auto* v = flow.if_contains(name);
  if (!v) {
    if (property == FlowProperty::kReadOnly) return false;
    not_found("flow " + id + " has no " + name);
  }
  return *v;
}

void Flows::put_property(const std::string& id, FlowProperty property, const bj::value& value,
                         const Principal& who) {
  const char* name = property_name(property);
  switch (property) {
    case FlowProperty::kLabel:
    case FlowProperty::kDescription:
      if (!value.is_string()) bad_request(std::string(name) + " must be a JSON string");
      break;
    case FlowProperty::kReadOnly:
      if (!value.is_bool()) bad_request("read_only must be a JSON boolean");
      break;
    case FlowProperty::kMaxBitRate:
    case FlowProperty::kAvgBitRate:
      if (!(value.is_int64() && value.as_int64() >= 0) && !value.is_uint64()) {
        bad_request(std::string(name) + " must be a JSON integer >= 0 (kilobits per second)");
      }
      break;
    case FlowProperty::kFlowCollection:
      validate("flow-collection.json", value, "flow_collection");
      break;
  }
  update(id, who, property == FlowProperty::kReadOnly, [&](store::Reader& r, bj::object& flow) {
    if (property == FlowProperty::kFlowCollection) check_collection_members(r, id, value);
    flow[name] = value;
  });
}

void Flows::delete_property(const std::string& id, FlowProperty property, const Principal& who) {
  if (property == FlowProperty::kReadOnly) {
    throw Error(ErrorKind::kMethodNotAllowed, "read_only cannot be deleted; PUT false instead");
  }
  update(id, who, false,
         [&](store::Reader&, bj::object& flow) { flow.erase(property_name(property)); });
}

}  // namespace tams::core
