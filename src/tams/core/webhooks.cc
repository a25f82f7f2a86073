#include "tams/core/webhooks.h"

#include <algorithm>
#include <array>

#include "tams/core/error.h"
#include "tams/json/schema.h"

namespace tams::core {

namespace bj = boost::json;

namespace {

// webhook-post.json's properties: everything else is refused rather than ignored (an ignored
// filter would deliver events the registrant asked not to get).
constexpr std::array<std::string_view, 12> kKnownProperties = {"url",
                                                               "api_key_name",
                                                               "api_key_value",
                                                               "events",
                                                               "flow_ids",
                                                               "source_ids",
                                                               "flow_collected_by_ids",
                                                               "source_collected_by_ids",
                                                               "accept_get_urls",
                                                               "accept_storage_ids",
                                                               "presigned",
                                                               "verbose_storage"};

// Headers tams sets itself on a delivery; an api key may not replace them.
constexpr std::array<std::string_view, 8> kReservedHeaders = {
    "content-type", "content-length", "host",       "transfer-encoding",
    "expect",       "connection",     "user-agent", "accept"};

std::optional<std::vector<std::string>> string_list(const bj::object& doc, std::string_view key) {
  const auto* v = doc.if_contains(key);
  if (v == nullptr || !v->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : v->as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

bool listed(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool intersects(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return std::any_of(a.begin(), a.end(), [&](const std::string& x) { return listed(b, x); });
}

// RFC 9110 token characters.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void check_api_key(const bj::object& body) {
  const auto* name = body.if_contains("api_key_name");
  const auto* value = body.if_contains("api_key_value");
  if (value && !name) bad_request("api_key_value: given without api_key_name");
  if (!name) return;
  const std::string_view n = name->as_string();
  if (n.empty() || !std::all_of(n.begin(), n.end(), is_tchar)) {
    bad_request("api_key_name: not a valid HTTP header name");
  }
  if (listed(std::vector<std::string>(kReservedHeaders.begin(), kReservedHeaders.end()),
             lower(n))) {
    bad_request("api_key_name: \"" + std::string(n) + "\" is a header tams sets itself");
  }
  if (value) {
    const std::string_view v = value->as_string();
    const bool ok = std::all_of(v.begin(), v.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return u == '\t' || (u >= 0x20 && u != 0x7f);
    });
    // Never echo the value: it is a secret.
    if (!ok) bad_request("api_key_value: contains control characters");
  }
}

bj::object shown(const bj::object& doc) {
  bj::object out = doc;
  out.erase("api_key_value");
  return out;
}

}  // namespace

WebhookFilters WebhookFilters::from_doc(const bj::object& doc) {
  WebhookFilters f;
  f.events = string_list(doc, "events").value_or(std::vector<std::string>{});
  f.flow_ids = string_list(doc, "flow_ids");
  f.source_ids = string_list(doc, "source_ids");
  f.flow_collected_by_ids = string_list(doc, "flow_collected_by_ids");
  f.source_collected_by_ids = string_list(doc, "source_collected_by_ids");
  f.get_urls.accept_get_urls = string_list(doc, "accept_get_urls");
  f.get_urls.accept_storage_ids = string_list(doc, "accept_storage_ids");
  if (const auto* v = doc.if_contains("presigned"); v && v->is_bool()) {
    f.get_urls.presigned = v->as_bool();
  }
  if (const auto* v = doc.if_contains("verbose_storage"); v && v->is_bool()) {
    f.get_urls.verbose_storage = v->as_bool();
  }
  return f;
}

bool matches(const WebhookFilters& f, std::string_view type, const EventSubject& subject) {
  if (!listed(f.events, type)) return false;
  const bool flow_event = type.starts_with("flows/");
  if (flow_event && f.flow_ids && !listed(*f.flow_ids, subject.flow_id)) return false;
  if (f.source_ids && !listed(*f.source_ids, subject.source_id)) return false;
  if (flow_event && f.flow_collected_by_ids &&
      !intersects(subject.flow_collected_by, *f.flow_collected_by_ids)) {
    return false;
  }
  if (f.source_collected_by_ids &&
      !intersects(subject.source_collected_by, *f.source_collected_by_ids)) {
    return false;
  }
  return true;
}

bj::object render_event(const store::EventRecord& event, const WebhookFilters& filters,
                        const media::Backends& backends, const std::string& base_url) {
  bj::object payload = event.payload;
  if (event.type == kFlowsSegmentsAdded) {
    bj::array segments;
    if (const auto* items = event.payload.if_contains("segments"); items && items->is_array()) {
      for (const auto& item : items->as_array()) {
        const auto& o = item.as_object();
        store::SegmentRecord record;
        record.doc = o.at("segment").as_object();
        if (const auto* id = record.doc.if_contains("object_id"); id && id->is_string()) {
          record.object_id = std::string(id->as_string());
        }
        if (const auto* s = o.if_contains("storage_id"); s && s->is_string()) {
          record.storage_id = std::string(s->as_string());
        }
        bj::object out = record.doc;
        out["get_urls"] = build_get_urls(record, backends, filters.get_urls, base_url);
        segments.push_back(std::move(out));
      }
    }
    payload["segments"] = std::move(segments);
  }
  return bj::object{{"event_timestamp", event.timestamp},
                    {"event_type", event.type},
                    {"event", std::move(payload)}};
}

bj::array Webhooks::list() {
  bj::array out;
  store_.read([&](store::Reader& r) {
    for (const auto& w : r.list_webhooks()) out.push_back(shown(w.doc));
  });
  return out;
}

Webhooks::PostResult Webhooks::post(const bj::value& body, const std::string& base_url) {
  if (auto problem = json::SchemaSet::spec().validate("webhook-post.json", body)) {
    bad_request("webhook: " + *problem);
  }
  bj::object doc = body.as_object();
  for (const auto& [key, value] : doc) {
    if (std::find(kKnownProperties.begin(), kKnownProperties.end(), key) ==
        kKnownProperties.end()) {
      bad_request("\"" + std::string(key) + "\" is not a webhook property this store supports");
    }
  }
  // Event types: known ones only; duplicates dropped, order kept.
  bj::array events;
  size_t i = 0;
  for (const auto& item : doc.at("events").as_array()) {
    const std::string_view type = item.as_string();
    if (!is_event_type(type)) {
      bad_request("events[" + std::to_string(i) + "]: \"" + std::string(type) +
                  "\" is not a TAMS 7.0 event type");
    }
    if (std::find(events.begin(), events.end(), item) == events.end()) events.push_back(item);
    ++i;
  }
  doc["events"] = events;
  check_api_key(doc);

  const std::string url(doc.at("url").as_string());
  const std::string key_name(doc.if_contains("api_key_name")
                                 ? std::string_view(doc.at("api_key_name").as_string())
                                 : std::string_view());
  PostResult result;
  if (events.empty()) {
    // Removal never needs the URL to be reachable or acceptable (it may predate the policy).
    store_.write([&](store::WriteTransaction& tx) { tx.delete_webhook(url, key_name); });
    result.removed = true;
    return result;
  }
  if (auto problem = policy_.check(url)) bad_request("url: " + *problem);

  store::WebhookRecord record;
  record.url = url;
  record.api_key_name = key_name;
  record.doc = doc;
  record.base_url = base_url;
  store_.write([&](store::WriteTransaction& tx) { tx.put_webhook(record); });
  result.registration = shown(doc);
  return result;
}

}  // namespace tams::core
