#include "tams/core/segments.h"

#include <algorithm>
#include <ctime>
#include <future>
#include <map>

#include "tams/core/clock.h"
#include "tams/core/error.h"
#include "tams/core/flow_document.h"
#include "tams/core/listed_segment.h"
#include "tams/core/events.h"
#include "tams/core/ids.h"
#include "tams/json/schema.h"
#include "tams/time/timestamp.h"

namespace tams::core {

namespace bj = boost::json;

// What the backend says about an object's bytes: uploaded or not, or why it cannot tell now.
struct UploadCheck {
  bool uploaded = false;
  std::string unavailable;  // non-empty: the store cannot be asked now (503)
};

namespace {


void check_timestamp(const bj::object& segment, std::string_view key) {
  const auto text = string_member(segment, key);
  if (text.empty()) return;
  std::string error;
  if (!time::Timestamp::parse(text, &error)) bad_request(std::string(key) + ": " + error);
}

// Client get_urls may only add uncontrolled URLs: {url, label}; a label must not pretend to be
// one of our backends.
void check_client_get_urls(const bj::object& segment, const media::Backends& backends) {
  const auto* urls = segment.if_contains("get_urls");
  if (!urls) return;
  size_t i = 0;
  for (const auto& item : urls->as_array()) {
    for (const auto& [key, value] : item.as_object()) {
      if (key != "url" && key != "label") {
        bad_request("get_urls[" + std::to_string(i) + "]: only \"url\" and \"label\" may be given " +
                    "(controlled URLs are added by the store), not \"" + std::string(key) + "\"");
      }
    }
    const auto label = string_member(item.as_object(), "label");
    for (const auto* store : backends.all()) {
      if (!label.empty() && store->backend().label == label) {
        bad_request("get_urls[" + std::to_string(i) + "]: label \"" + std::string(label) +
                    "\" is the label of storage backend " + store->backend().id);
      }
    }
    ++i;
  }
}

// Everything about one segment of a POST that needs no database: its shape (the schema), its
// timerange (bounded, not empty), its timestamps and its client get_urls. Returns the timerange;
// throws a kBadRequest Error naming the problem. Runs before the write transaction, so that
// concurrent registrations check their segments in parallel rather than one by one while
// holding the writer.
time::TimeRange check_segment(const bj::value& item, const media::Backends& backends) {
  // The timerange first: its grammar error says more than the schema's regex would.
  if (const auto* o = item.if_object()) {
    if (const auto* t = o->if_contains("timerange"); t && t->is_string()) {
      std::string error;
      if (!time::TimeRange::parse(t->as_string(), &error)) bad_request("timerange: " + error);
    }
  }
  if (auto problem = json::SchemaSet::spec().validate("flow-segment-post.json", item)) {
    bad_request("segment: " + *problem);
  }
  const bj::object& segment = item.as_object();
  std::string error;
  auto range = time::TimeRange::parse(string_member(segment, "timerange"), &error);
  if (!range) bad_request("timerange: " + error);
  if (range->is_empty()) bad_request("timerange: a segment cannot have an empty timerange");
  if (!range->has_start() || !range->has_end()) {
    bad_request("timerange: a segment needs both a start and an end");
  }
  check_timestamp(segment, "ts_offset");
  check_timestamp(segment, "last_duration");
  check_client_get_urls(segment, backends);
  return *range;
}

UploadCheck check_upload(const media::MediaStore& store, const std::string& object_id) {
  try {
    return UploadCheck{store.exists(object_id), {}};
  } catch (const media::StoreUnavailable& e) {
    return UploadCheck{false, e.what()};
  }
}

// The object ids named by the segments of a POST body (malformed items are skipped: they fail
// validation later anyway).
std::vector<std::string> object_ids_of(const bj::value& body) {
  std::vector<std::string> ids;
  auto one = [&](const bj::value& item) {
    if (const auto* o = item.if_object()) {
      if (const auto* id = o->if_contains("object_id"); id && id->is_string()) {
        ids.emplace_back(id->as_string());
      }
    }
  };
  if (body.is_array()) {
    for (const auto& item : body.as_array()) one(item);
  } else {
    one(body);
  }
  return ids;
}

// Everything a listing page depends on besides the flow id, as one string (the cache key).
std::string page_key(const Segments::ListQuery& q, const std::string& base_url) {
  std::string key = q.timerange.to_string();
  auto field = [&key](std::string_view value) {
    key += '\x1f';
    key += value;
  };
  auto list = [&](const std::optional<std::vector<std::string>>& values) {
    field(values ? "[" : "-");
    if (values) {
      for (const auto& v : *values) field(v);
      field("]");
    }
  };
  field(q.object_id ? "o" + *q.object_id : "-");
  field(q.reverse_order ? "r" : "f");
  list(q.get_urls.accept_get_urls);
  list(q.get_urls.accept_storage_ids);
  field(!q.get_urls.presigned ? "-" : *q.get_urls.presigned ? "p1" : "p0");
  field(q.get_urls.verbose_storage ? "v" : "-");
  field(q.page.after);
  field(std::to_string(q.page.limit));
  field(base_url);
  return key;
}

}  // namespace

// Upload checks may be network requests (S3 HEAD): they run before the write transaction, a few
// at a time, so that the database's writer is never held while an object store answers.
std::map<std::string, UploadCheck> Segments::check_uploads(const bj::value& body) const {
  std::vector<std::pair<std::string, const media::MediaStore*>> to_check;
  if (!options_.check_uploads) return {};
  const std::vector<std::string> ids = object_ids_of(body);
  if (ids.empty()) return {};
  store_.read([&](store::Reader& r) {
    to_check.clear();
    for (const auto& id : ids) {
      const auto object = r.get_object(id);
      if (!object || object->ever_referenced || object->storage_id.empty()) continue;
      if (const auto* store = backends_.find(object->storage_id)) to_check.emplace_back(id, store);
    }
  });
  std::map<std::string, UploadCheck> checked;
  constexpr size_t kParallel = 8;
  for (size_t from = 0; from < to_check.size(); from += kParallel) {
    const size_t to = std::min(to_check.size(), from + kParallel);
    std::vector<std::future<UploadCheck>> running;
    for (size_t i = from + 1; i < to; ++i) {
      running.push_back(std::async(std::launch::async, [&to_check, i] {
        return check_upload(*to_check[i].second, to_check[i].first);
      }));
    }
    checked[to_check[from].first] = check_upload(*to_check[from].second, to_check[from].first);
    for (size_t i = from + 1; i < to; ++i) checked[to_check[i].first] = running[i - from - 1].get();
  }
  return checked;
}

std::vector<Segments::Failure> Segments::add(const std::string& flow_id, const bj::value& body) {
  if (!is_valid_id(flow_id)) not_found("\"" + flow_id + "\" is not a valid flow id");
  const bool bulk = body.is_array();
  if (!bulk && !body.is_object()) {
    bad_request("the body must be a segment object or an array of segment objects");
  }
  // What needs no database, checked before the transaction; reported inside it, after the
  // flow's own checks (a missing flow is a 404 whatever the body): a single segment's problem is
  // the request's (400), a bulk item's becomes its failure entry.
  struct Checked {
    time::TimeRange range;  // when `problem` is empty
    std::string problem;
  };
  std::vector<Checked> checked;
  auto precheck = [&](const bj::value& item) {
    try {
      checked.push_back({check_segment(item, backends_), {}});
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kBadRequest) throw;
      checked.push_back({time::TimeRange::eternity(), e.summary()});
    }
  };
  if (!bulk) {
    precheck(body);
  } else {
    checked.reserve(body.as_array().size());
    for (const auto& item : body.as_array()) precheck(item);
  }
  const std::map<std::string, UploadCheck> uploads = check_uploads(body);
  std::vector<Failure> failures;
  AfterWrite invalidate([&] {
    if (cache_) cache_->invalidate_segments(flow_id);
  });
  store_.write([&](store::WriteTransaction& tx) {
    failures.clear();
    // The registered segments (stored doc, storage backend of the object) for the event.
    std::vector<std::pair<bj::object, std::string>> registered;
    const bj::object flow = load_writable_flow(tx, flow_id);
    require_container(flow, "segments");
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    bool added = false;

    // One segment that passed check_segment: the checks that need the database, and the insert.
    auto add_one = [&](const bj::value& item, const time::TimeRange& range) {
      const bj::object& segment = item.as_object();
      if (tx.segment_overlaps(flow_id, range.start(), range.end())) {
        bad_request("timerange " + range.to_string() + " overlaps a segment of flow " + flow_id);
      }

      const std::string object_id(string_member(segment, "object_id"));
      const auto* client_urls = segment.if_contains("get_urls");
      const bool has_client_urls = client_urls && !client_urls->as_array().empty();
      auto object = tx.get_object(object_id);
      if (!object) {
        if (!has_client_urls) {
          bad_request("object " + object_id +
                      " is unknown: allocate it with POST /flows/{id}/storage, or give get_urls "
                      "for an object held elsewhere");
        }
        tx.put_object(store::ObjectRecord{object_id, "", "", "", 0, false, 0});
      } else if (!object->ever_referenced) {
        if (!object->allocated_for_flow.empty() && object->allocated_for_flow != flow_id) {
          bad_request("object " + object_id + " was allocated for flow " +
                      object->allocated_for_flow + " and has not been registered yet");
        }
        if (object->expires_at > 0 && object->expires_at < now) {
          bad_request("the allocation of object " + object_id + " has expired");
        }
        if (options_.check_uploads && !object->storage_id.empty()) {
          const auto* store = backends_.find(object->storage_id);
          if (store) {
            // Checked before the transaction; an object allocated meanwhile is checked now.
            const auto it = uploads.find(object_id);
            const UploadCheck c = it != uploads.end() ? it->second : check_upload(*store, object_id);
            if (!c.unavailable.empty()) throw Error(ErrorKind::kUnavailable, c.unavailable);  // 503
            if (!c.uploaded) bad_request("object " + object_id + " has not been uploaded to its put_url");
          }
        }
      }
      store::SegmentRecord record{flow_id, range.start(), range.end(), object_id, segment, {}, {}};
      record.doc["timerange"] = range.to_string();
      tx.insert_segment(record);
      added = true;
      registered.emplace_back(std::move(record.doc), object ? object->storage_id : std::string());
    };

    auto fail = [&](const bj::value& item, std::string summary) {
      Failure f;
      if (const auto* o = item.if_object()) {
        f.object_id = string_member(*o, "object_id");
        // Only a well-formed timerange may appear in the failure (the schema says so).
        if (auto r = time::TimeRange::parse(string_member(*o, "timerange"))) {
          f.timerange = string_member(*o, "timerange");
        }
      }
      f.summary = std::move(summary);
      failures.push_back(std::move(f));
    };
    if (!bulk) {
      if (!checked[0].problem.empty()) bad_request(checked[0].problem);
      add_one(body, checked[0].range);
    } else {
      size_t i = 0;
      for (const auto& item : body.as_array()) {
        const size_t index = i++;
        if (!checked[index].problem.empty()) {
          fail(item, checked[index].problem);
          continue;
        }
        try {
          add_one(item, checked[index].range);
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::kBadRequest) throw;
          fail(item, e.summary());
        }
      }
    }
    if (added) {
      tx.set_segments_updated(flow_id, now_rfc3339());
      EventWriter(tx).segments_added(flow, registered);
    }
  });
  return failures;
}

std::shared_ptr<const Segments::ListResult> Segments::list(const std::string& flow_id,
                                                          const ListQuery& query,
                                                          const std::string& base_url) {
  if (!is_valid_id(flow_id)) not_found("\"" + flow_id + "\" is not a valid flow id");
  auto load = [&] { return load_page(flow_id, query, base_url); };
  if (!cache_ || !cache_->segment_pages().enabled()) return load();
  return cache_->segment_pages().find_or_load(
      flow_id, page_key(query, base_url),
      [&] { return cache_->fill(cache_->segment_pages(), flow_id, load); },
      [](const ListResult& page) { return std::max<size_t>(1, page.count); });
}

std::shared_ptr<Segments::ListResult> Segments::load_page(const std::string& flow_id,
                                                          const ListQuery& query,
                                                          const std::string& base_url) {
  store::SegmentQuery q{flow_id, query.timerange, query.object_id, query.reverse_order, query.page};
  model::Page<store::SegmentRecord> page = store_.read_segment_page(q);

  auto shared = std::make_shared<ListResult>();
  ListResult& result = *shared;
  result.next = page.next;
  if (!page.items.empty()) {
    result.paging_timerange =
        listed_timerange(page.items.front()).extent(listed_timerange(page.items.back()));
  }
  result.count = page.items.size();
  std::string& json = result.json;
  // A segment with one signed URL is its document plus about 300 bytes.
  constexpr size_t kUrlsBytes = 320;
  size_t expected = 2;
  for (const auto& record : page.items) expected += record.doc_json.size() + kUrlsBytes;
  json.reserve(expected);
  json += '[';
  for (auto& record : page.items) {
    if (json.size() > 1) json += ',';
    append_listed_segment(json, record, backends_, query.get_urls, base_url);
  }
  json += ']';
  return shared;
}

}  // namespace tams::core
