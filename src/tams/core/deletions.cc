#include "tams/core/deletions.h"

#include <spdlog/spdlog.h>

#include "tams/core/clock.h"
#include "tams/core/error.h"
#include "tams/core/flow_document.h"
#include "tams/core/events.h"
#include "tams/core/ids.h"

namespace tams::core {

namespace bj = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string rfc3339_after(int64_t seconds) {
  // now_rfc3339 gives the current time; build the expiry from the system clock directly.
  using namespace std::chrono;
  const auto t = floor<microseconds>(system_clock::now() + std::chrono::seconds(seconds));
  const auto secs = floor<std::chrono::seconds>(t);
  const std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long>((t - secs).count()));
  return buf;
}

time::TimeRange remaining_after(const time::TimeRange& range, int64_t last_end) {
  return range.intersection(time::TimeRange::half_open(last_end, time::TimeRange::kUnboundedEnd));
}

// Thrown inside a write transaction whose deletion request another instance has taken over:
// rolls the transaction back.
struct LeaseLost {};

}  // namespace

Deletions::Deletions(store::MetadataStore& store, Flows& flows, DeletionOptions options,
                     MetadataCache* cache)
    : store_(store), flows_(flows), options_(std::move(options)), cache_(cache) {
  if (options_.lease.owner.empty()) options_.lease.owner = new_lease_owner();
}

void Deletions::check_flow(const std::string& flow_id) {
  store_.read([&](store::Reader& r) { load_writable_flow(r, flow_id); });
}

int64_t Deletions::delete_batch(const std::string& flow_id, const time::TimeRange& range,
                                const std::optional<std::string>& object_id, int64_t& last_end,
                                store::DeletionRequestRecord* request) {
  int64_t n = 0;
  std::optional<store::DeletionRequestRecord> progressed;  // committed with the batch
  AfterWrite invalidate([&] {
    if (cache_ && n > 0) cache_->invalidate_segments(flow_id);
  });
  store_.write([&](store::WriteTransaction& tx) {
    auto deleted = tx.delete_segments(flow_id, range, object_id, options_.batch_size);
    n = static_cast<int64_t>(deleted.size());
    const std::string now = now_rfc3339();
    if (n > 0) {
      last_end = deleted.back().end_ns;
      tx.set_segments_updated(flow_id, now);
      EventWriter events(tx);
      if (events.active()) {
        auto flow = tx.get_flow(flow_id);
        events.segments_deleted(flow ? *flow : bj::object{{"id", flow_id}}, deleted);
      }
    }
    if (request) {
      store::DeletionRequestRecord updated = *request;
      if (n > 0) updated.doc["timerange_remaining"] = remaining_after(range, last_end).to_string();
      updated.doc["status"] = "started";
      updated.doc["updated"] = now;
      if (!tx.update_deletion_request(updated, options_.lease.owner,
                                      options_.lease.until_from_now())) {
        throw LeaseLost{};
      }
      progressed = std::move(updated);
    }
  });
  if (progressed) *request = std::move(*progressed);
  return n;
}

Deletions::Outcome Deletions::run(const std::string& flow_id, const time::TimeRange& range,
                                  const std::optional<std::string>& object_id, bool delete_flow,
                                  const Principal& who) {
  const auto deadline = Clock::now() + options_.budget;
  int64_t last_end = range.start();
  bool done = range.is_empty();
  while (!done) {
    const int64_t n = delete_batch(flow_id, range, object_id, last_end, nullptr);
    done = n < options_.batch_size;
    if (!done && !object_id && Clock::now() >= deadline) break;
  }
  Outcome outcome;
  if (done) {
    if (delete_flow) flows_.remove(flow_id, who);
    outcome.done = true;
    return outcome;
  }
  const std::string now = now_rfc3339();
  store::DeletionRequestRecord request{new_id(), flow_id, {}};
  request.doc = bj::object{{"id", request.id},
                           {"flow_id", flow_id},
                           {"timerange_to_delete", range.to_string()},
                           {"timerange_remaining", remaining_after(range, last_end).to_string()},
                           {"delete_flow", delete_flow},
                           {"status", "created"},
                           {"created", now},
                           {"created_by", who.name},
                           {"updated", now}};
  store_.write([&](store::WriteTransaction& tx) { tx.put_deletion_request(request); });
  outcome.request = request.doc;
  return outcome;
}

Deletions::Outcome Deletions::delete_segments(const std::string& flow_id,
                                              const time::TimeRange& range,
                                              const std::optional<std::string>& object_id,
                                              const Principal& who) {
  check_flow(flow_id);
  return run(flow_id, range, object_id, false, who);
}

Deletions::Outcome Deletions::delete_flow(const std::string& flow_id, const Principal& who) {
  check_flow(flow_id);
  return run(flow_id, time::TimeRange::eternity(), std::nullopt, true, who);
}

bj::object Deletions::get(const std::string& request_id) {
  std::optional<store::DeletionRequestRecord> record;
  if (is_valid_id(request_id)) {
    store_.read([&](store::Reader& r) { record = r.get_deletion_request(request_id); });
  }
  if (!record) not_found("no deletion request with id \"" + request_id + "\"");
  return record->doc;
}

bj::array Deletions::list() {
  bj::array out;
  store_.read([&](store::Reader& r) {
    for (auto& record : r.list_deletion_requests()) out.push_back(std::move(record.doc));
  });
  return out;
}

bool Deletions::finish(const store::DeletionRequestRecord& claimed) {
  store::DeletionRequestRecord request = claimed;
  const bool delete_flow = request.doc.at("delete_flow").as_bool();
  const std::string created_by(request.doc.if_contains("created_by")
                                   ? request.doc.at("created_by").as_string()
                                   : bj::string());
  if (delete_flow) {
    try {
      flows_.remove(request.flow_id, Principal{created_by});
    } catch (const Error& e) {
      // The flow is gone already (fine) or became read-only meanwhile (an error to report).
      if (e.kind() != ErrorKind::kNotFound) {
        request.doc["status"] = "error";
        request.doc["error"] = bj::object{{"type", "read_only"},
                                          {"summary", e.summary()},
                                          {"time", now_rfc3339()}};
      }
    }
  }
  if (request.doc.at("status") != "error") request.doc["status"] = "done";
  request.doc["timerange_remaining"] = "()";
  request.doc["updated"] = now_rfc3339();
  request.doc["expiry"] = rfc3339_after(options_.request_expiry_seconds);
  bool held = false;
  store_.write([&](store::WriteTransaction& tx) {
    held = tx.update_deletion_request(request, options_.lease.owner, 0);
  });
  return held;
}

void Deletions::release(const store::DeletionRequestRecord& request) {
  store_.write([&](store::WriteTransaction& tx) {
    tx.update_deletion_request(request, options_.lease.owner, 0);
  });
}

Deletions::Progress Deletions::continue_request(store::DeletionRequestRecord& request,
                                                Clock::time_point deadline) {
  auto range = time::TimeRange::parse(
      std::string_view(request.doc.at("timerange_remaining").as_string()));
  if (!range) range = time::TimeRange::empty();
  int64_t last_end = range->start();
  bool done = range->is_empty();
  try {
    while (!done) {
      const int64_t n = delete_batch(request.flow_id, *range, std::nullopt, last_end, &request);
      done = n < options_.batch_size;
      if (!done && Clock::now() >= deadline) return Progress::kOutOfTime;
    }
  } catch (const LeaseLost&) {
    return Progress::kLeaseLost;
  }
  return finish(request) ? Progress::kFinished : Progress::kLeaseLost;
}

bool Deletions::work(std::chrono::milliseconds budget) {
  const auto deadline = Clock::now() + budget;
  for (;;) {
    std::vector<store::DeletionRequestRecord> claimed;
    store_.write([&](store::WriteTransaction& tx) {
      claimed = tx.claim_deletion_requests(options_.lease.claim(1));
    });
    if (claimed.empty()) break;
    store::DeletionRequestRecord& request = claimed.front();
    Progress progress = Progress::kFinished;
    try {
      progress = continue_request(request, deadline);
    } catch (...) {
      try {
        release(request);  // so that the next attempt, here or elsewhere, need not wait
      } catch (const std::exception& e) {
        spdlog::warn("deletion request {}: could not release its lease: {}", request.id,
                     e.what());
      }
      throw;
    }
    if (progress == Progress::kOutOfTime) {
      release(request);
      return true;
    }
    if (progress == Progress::kLeaseLost) {
      spdlog::warn("deletion request {}: lease ended and taken over by another instance; "
                   "leaving it to that one", request.id);
    }
    if (Clock::now() >= deadline) return true;
  }
  store_.write([&](store::WriteTransaction& tx) { tx.purge_deletion_requests(now_rfc3339()); });
  return false;
}

}  // namespace tams::core
