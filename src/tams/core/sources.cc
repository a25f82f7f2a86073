#include "tams/core/sources.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tams/core/clock.h"
#include "tams/core/error.h"
#include "tams/core/events.h"
#include "tams/core/ids.h"

namespace tams::core {

namespace bj = boost::json;

namespace {

[[noreturn]] void source_not_found(const std::string& id) {
  not_found(is_valid_id(id) ? "no source with id " + id : "\"" + id + "\" is not a valid source id");
}

bj::object load(store::Reader& r, const std::string& id) {
  if (!is_valid_id(id)) source_not_found(id);
  auto doc = r.get_source(id);
  if (!doc) source_not_found(id);
  return std::move(*doc);
}

void check_text_property(const std::string& property) {
  if (property != "label" && property != "description") {
    throw Error(ErrorKind::kInternal, "unknown source property " + property);
  }
}

}  // namespace

void Sources::decorate(store::Reader& reader, bj::object& source) {
  const std::string id(source.at("id").as_string());
  auto members = reader.source_collection(id);
  if (!members.empty()) {
    bj::array items;
    for (auto& m : members) items.push_back(bj::object{{"id", m.id}, {"role", m.role}});
    source["source_collection"] = std::move(items);
  }
  auto collectors = reader.source_collected_by(id);
  if (!collectors.empty()) {
    bj::array ids;
    for (auto& c : collectors) ids.push_back(bj::string(c));
    source["collected_by"] = std::move(ids);
  }
}

model::Page<bj::object> Sources::list(const store::SourceFilter& filter,
                                      const model::PageRequest& page) {
  model::Page<bj::object> result;
  store_.read([&](store::Reader& r) {
    result = r.list_sources(filter, page);
    for (auto& s : result.items) decorate(r, s);
  });
  return result;
}

std::shared_ptr<const std::string> Sources::document_json(const std::string& id) {
  auto read = [&] {
    bj::object doc;
    store_.read([&](store::Reader& r) {
      doc = load(r, id);
      decorate(r, doc);
    });
    return std::make_shared<std::string>(bj::serialize(doc));
  };
  if (!cache_) return read();
  return cache_->sources().find_or_load(id, {},
                                        [&] { return cache_->fill(cache_->sources(), id, read); });
}

bj::object Sources::get(const std::string& id) {
  return bj::parse(*document_json(id)).as_object();
}

bj::object Sources::tags(const std::string& id) {
  bj::object doc = get(id);
  if (auto* t = doc.if_contains("tags"); t && t->is_object()) return t->as_object();
  return {};
}

std::string Sources::tag(const std::string& id, const std::string& name) {
  bj::object t = tags(id);
  auto* v = t.if_contains(name);
  if (!v || !v->is_string()) not_found("source " + id + " has no tag \"" + name + "\"");
  return std::string(v->as_string());
}

template <class F>
void Sources::update(const std::string& id, const Principal& who, F&& change) {
  AfterWrite invalidate([&] {
    if (cache_) cache_->invalidate_source(id);
  });
  store_.write([&](store::WriteTransaction& tx) {
    bj::object doc = load(tx, id);
    change(doc);
    doc["updated"] = now_rfc3339();
    doc["updated_by"] = who.name;
    tx.put_source(doc);
    EventWriter(tx).source_updated(id);
  });
}

void Sources::put_tag(const std::string& id, const std::string& name, const bj::value& value,
                      const Principal& who) {
  if (!value.is_string()) bad_request("a tag value must be a JSON string");
  if (name.empty()) not_found("empty tag name");
  update(id, who, [&](bj::object& doc) {
    auto* t = doc.if_contains("tags");
    if (!t || !t->is_object()) t = &(doc["tags"] = bj::object());
    t->as_object()[name] = value.as_string();
  });
}

void Sources::delete_tag(const std::string& id, const std::string& name, const Principal& who) {
  update(id, who, [&](bj::object& doc) {
    auto* t = doc.if_contains("tags");
    if (!t || !t->is_object() || !t->as_object().contains(name)) {
      not_found("source " + id + " has no tag \"" + name + "\"");
    }
    t->as_object().erase(name);
  });
}

std::string Sources::text_property(const std::string& id, const std::string& property) {
  check_text_property(property);
  bj::object doc = get(id);
  auto* v = doc.if_contains(property);
  if (!v || !v->is_string()) not_found("source " + id + " has no " + property);
  return std::string(v->as_string());
}

void Sources::put_text_property(const std::string& id, const std::string& property,
                                const bj::value& value, const Principal& who) {
  check_text_property(property);
  if (!value.is_string()) bad_request(property + " must be a JSON string");
  update(id, who, [&](bj::object& doc) { doc[property] = value.as_string(); });
}

void Sources::delete_text_property(const std::string& id, const std::string& property,
                                   const Principal& who) {
  check_text_property(property);
  update(id, who, [&](bj::object& doc) { doc.erase(property); });
}

}  // namespace tams::core
