#include "tams/jobs/webhook_delivery.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <memory>
#include <random>

#include "tams/core/clock.h"
#include "tams/core/events.h"
#include "tams/core/webhooks.h"

namespace tams::jobs {

namespace {

constexpr int64_t kEventsPerRead = 256;
constexpr int kMaxReadsPerPass = 16;  // per registration; the next pass goes on at once
// Delivered events are purged at most this often after progress was made, and at least this
// often anyway (left-overs of removed registrations).
constexpr auto kPurgeInterval = std::chrono::seconds(1);
constexpr auto kIdlePurgeInterval = std::chrono::seconds(60);

// Free registrations claimed per pass at most (the ones already held stay held).
constexpr int64_t kClaimsPerPass = 256;
// A held registration with nothing to send is released after this long, so that any instance
// may take it up; under steady traffic it stays with its holder (no claim/release per event).
constexpr auto kIdleRelease = std::chrono::seconds(2);

// URLs may carry secrets in their query: logs show scheme, host and path only.
std::string loggable(const std::string& url) { return url.substr(0, url.find_first_of("?#")); }

double random_unit() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

// ---- libcurl ----

struct CurlContext {
  const core::UrlPolicy* policy = nullptr;
  bool host_listed = false;
  std::string refused;  // the address refused by the policy, if any
  const std::atomic<bool>* stopping = nullptr;
};

curl_socket_t open_socket(void* clientp, curlsocktype, curl_sockaddr* address) {
  auto* context = static_cast<CurlContext*>(clientp);
  auto ip = core::IpAddress::from_sockaddr(&address->addr);
  if (!ip || !context->policy->address_allowed(*ip, context->host_listed)) {
    context->refused =
        ip ? ip->to_string() + ", a " + core::address_class_name(core::classify(*ip)) + " address"
           : "a non-IP address";
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

int on_progress(void* clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<CurlContext*>(clientp)->stopping->load() ? 1 : 0;
}

size_t discard_body(char*, size_t size, size_t count, void*) { return size * count; }

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

PostOutcome curl_post(const core::UrlPolicy& policy, std::chrono::milliseconds timeout,
                      const OutgoingPost& post, const std::atomic<bool>& stopping) {
  PostOutcome outcome;
  std::string problem;
  auto parts = core::UrlPolicy::split(post.url, &problem);
  if (!parts) {
    outcome.error = "url: " + problem;
    return outcome;
  }
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  if (!handle) {
    outcome.error = "cannot initialise libcurl";
    return outcome;
  }
  CURL* c = handle.get();
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next) {
      headers.release();
      headers.reset(next);
    }
  };
  add_header("Content-Type: application/json");
  add_header("Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : post.headers) {
    add_header(value.empty() ? name + ";" : name + ": " + value);  // "Name;" sends it empty
  }
  CurlContext context{&policy, policy.host_listed(parts->host), {}, &stopping};
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, post.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never through a proxy from the environment
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, post.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "tams-webhooks");
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &context);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &context);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_ABORTED_BY_CALLBACK && stopping.load()) {
    outcome.aborted = true;
    outcome.error = "stopping";
    return outcome;
  }
  if (!context.refused.empty()) {
    outcome.error = "refused to connect to " + context.refused + " (see webhook_allowed_hosts)";
    return outcome;
  }
  if (rc != CURLE_OK) {
    outcome.error = error[0] != '\0' ? std::string(error) : std::string(curl_easy_strerror(rc));
    return outcome;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  outcome.status = status;
  outcome.delivered = status >= 200 && status < 300;
  if (!outcome.delivered) outcome.error = "HTTP status " + std::to_string(status);
  return outcome;
}

}  // namespace

PostSender curl_sender(core::UrlPolicy policy, std::chrono::milliseconds timeout) {
  return [policy = std::move(policy), timeout](const OutgoingPost& post,
                                               const std::atomic<bool>& stopping) {
    return curl_post(policy, timeout, post, stopping);
  };
}

std::chrono::milliseconds retry_delay(int64_t failed_attempts, std::chrono::milliseconds base,
                                      std::chrono::milliseconds max, double jitter) {
  const double exponent = static_cast<double>(std::clamp<int64_t>(failed_attempts, 1, 62) - 1);
  const double full = std::min(static_cast<double>(max.count()),
                               static_cast<double>(base.count()) * std::pow(2.0, exponent));
  const double j = std::clamp(jitter, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(full / 2 + j * full / 2));
}

WebhookDelivery::WebhookDelivery(store::MetadataStore& store, const media::Backends& backends,
                                 PostSender sender, WebhookDeliveryOptions options)
    : store_(store), backends_(backends), sender_(std::move(sender)), options_(options) {
  options_.concurrency = std::max(1, options_.concurrency);
  options_.max_attempts = std::max<int64_t>(1, options_.max_attempts);
  if (options_.lease.owner.empty()) options_.lease.owner = core::new_lease_owner();
}

void WebhookDelivery::start() {
  stopping_ = false;
  for (int i = 0; i < options_.concurrency; ++i) senders_.emplace_back([this] { send_loop(); });
  dispatcher_ = std::thread([this] { dispatch_loop(); });
}

void WebhookDelivery::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  dispatcher_wake_.notify_all();
  sender_wake_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& t : senders_) {
    if (t.joinable()) t.join();
  }
  senders_.clear();
  // Deliveries aborted or not yet begun: another instance (or the next start) may go on at once.
  release(std::vector<int64_t>(held_.begin(), held_.end()));
  held_.clear();
  idle_since_.clear();
  std::lock_guard lock(mutex_);
  jobs_.clear();
  busy_.clear();
}

void WebhookDelivery::release(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  try {
    store_.write([&](store::WriteTransaction& tx) {
      for (int64_t id : ids) tx.release_webhook(id, options_.lease.owner);
    });
  } catch (const std::exception& e) {
    spdlog::warn("webhooks: could not release {} registrations (their leases will end): {}",
                 ids.size(), e.what());
  }
}

void WebhookDelivery::lease_lost(const store::WebhookRecord& webhook) const {
  spdlog::warn("webhook {}: no longer held by this instance (removed, or taken over by another "
               "instance after its lease ended); its progress is left to the holder",
               loggable(webhook.url));
}

void WebhookDelivery::nudge() {
  {
    std::lock_guard lock(mutex_);
    nudged_ = true;
  }
  dispatcher_wake_.notify_one();
}

WebhookCounters WebhookDelivery::counters() const {
  return WebhookCounters{delivered_.load(), failed_attempts_.load(), given_up_.load(),
                         filtered_.load()};
}

void WebhookDelivery::dispatch_loop() {
  auto last_purge = std::chrono::steady_clock::now() - kIdlePurgeInterval;
  for (;;) {
    std::chrono::milliseconds wait = options_.poll_interval;
    try {
      wait = dispatch_once();
      const auto since = std::chrono::steady_clock::now() - last_purge;
      if ((progressed_.load() && since >= kPurgeInterval) || since >= kIdlePurgeInterval) {
        progressed_ = false;
        store_.write([](store::WriteTransaction& tx) { tx.purge_events(); });
        last_purge = std::chrono::steady_clock::now();
      }
    } catch (const std::exception& e) {
      spdlog::error("webhook dispatch failed (will retry): {}", e.what());
    }
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    if (!nudged_ && wait.count() > 0) {
      dispatcher_wake_.wait_for(lock, wait, [this] { return stopping_.load() || nudged_; });
    }
    nudged_ = false;
    if (stopping_) return;
  }
}

std::chrono::milliseconds WebhookDelivery::dispatch_once() {
  uint64_t snapshot_epoch = 0;
  {
    std::lock_guard lock(mutex_);
    snapshot_epoch = epoch_;
    std::erase_if(completed_, [&](const auto& entry) { return entry.second <= snapshot_epoch; });
  }
  std::vector<store::WebhookRecord> webhooks;
  store_.write([&](store::WriteTransaction& tx) {
    webhooks = tx.claim_webhooks(options_.lease.claim(kClaimsPerPass));
  });
  held_.clear();
  std::vector<int64_t> idle;  // idle long enough: released at the end of the pass
  int64_t wait_ms = options_.poll_interval.count();
  const int64_t now = core::unix_now_ms();
  const auto steady_now = std::chrono::steady_clock::now();
  for (auto& webhook : webhooks) {
    held_.insert(webhook.id);
    if (stopping_) continue;  // stop() releases them
    {
      std::lock_guard lock(mutex_);
      if (busy_.count(webhook.id) > 0) continue;
      if (auto done = completed_.find(webhook.id);
          done != completed_.end() && done->second > snapshot_epoch) {
        continue;  // finished after the claim read it: its cursor here is stale
      }
    }
    if (webhook.next_attempt_ms > now) {
      // Retrying: kept (and renewed) until the next attempt, so its order stays with us.
      wait_ms = std::min(wait_ms, webhook.next_attempt_ms - now);
      continue;
    }
    const core::WebhookFilters filters = core::WebhookFilters::from_doc(webhook.doc);
    int64_t cursor = webhook.cursor;
    std::optional<store::EventRecord> next;
    bool more = false;
    for (int read = 0; read < kMaxReadsPerPass && !next; ++read) {
      std::vector<store::EventRecord> events;
      store_.read([&](store::Reader& r) { events = r.events_after(cursor, kEventsPerRead); });
      for (auto& event : events) {
        if (core::matches(filters, event.type, core::EventSubject::from_json(event.subject))) {
          next = std::move(event);
          break;
        }
        cursor = event.seq;
        filtered_.fetch_add(1);
      }
      more = !next && static_cast<int64_t>(events.size()) == kEventsPerRead;
      if (!more) break;
    }
    if (cursor != webhook.cursor) {
      // Passing over filtered events ends any retries of an event the filters now exclude.
      bool held = false;
      store_.write([&](store::WriteTransaction& tx) {
        held = tx.set_webhook_progress(webhook.id, options_.lease.owner, cursor, 0, 0, "");
      });
      if (!held) {
        held_.erase(webhook.id);
        lease_lost(webhook);
        continue;
      }
      webhook.cursor = cursor;
      webhook.attempts = 0;
      progressed_ = true;
    }
    if (more) wait_ms = 0;
    if (!next) {
      const auto since = idle_since_.try_emplace(webhook.id, steady_now).first->second;
      if (!more && steady_now - since >= kIdleRelease) idle.push_back(webhook.id);
      continue;
    }
    idle_since_.erase(webhook.id);
    {
      std::lock_guard lock(mutex_);
      if (stopping_) continue;
      busy_.insert(webhook.id);
      jobs_.push_back(Job{std::move(webhook), std::move(*next)});
    }
    sender_wake_.notify_one();
  }
  release(idle);
  for (int64_t id : idle) held_.erase(id);
  std::erase_if(idle_since_, [&](const auto& entry) { return held_.count(entry.first) == 0; });
  return std::chrono::milliseconds(std::max<int64_t>(0, wait_ms));
}

void WebhookDelivery::send_loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      sender_wake_.wait(lock, [this] { return stopping_.load() || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      deliver(job);
    } catch (const std::exception& e) {
      spdlog::error("webhook {}: recording delivery of event {} failed (will retry): {}",
                    loggable(job.webhook.url), job.event.seq, e.what());
    }
    {
      std::lock_guard lock(mutex_);
      busy_.erase(job.webhook.id);
      completed_[job.webhook.id] = ++epoch_;
      nudged_ = true;
    }
    dispatcher_wake_.notify_one();
  }
}

void WebhookDelivery::deliver(const Job& job) {
  const store::WebhookRecord& webhook = job.webhook;
  const store::EventRecord& event = job.event;
  const core::WebhookFilters filters = core::WebhookFilters::from_doc(webhook.doc);
  OutgoingPost post;
  post.url = webhook.url;
  post.body =
      boost::json::serialize(core::render_event(event, filters, backends_, webhook.base_url));
  if (!webhook.api_key_name.empty()) {
    std::string value;
    if (const auto* v = webhook.doc.if_contains("api_key_value"); v && v->is_string()) {
      value = std::string(v->as_string());
    }
    post.headers.emplace_back(webhook.api_key_name, std::move(value));
  }
  PostOutcome outcome;
  try {
    outcome = sender_(post, stopping_);
  } catch (const std::exception& e) {
    outcome.error = e.what();
  }
  if (outcome.aborted) return;  // stopping: the event stays pending, not an attempt

  const std::string& owner = options_.lease.owner;
  bool held = false;
  if (outcome.delivered) {
    delivered_.fetch_add(1);
    store_.write([&](store::WriteTransaction& tx) {
      held = tx.set_webhook_progress(webhook.id, owner, event.seq, 0, 0, "");
    });
    if (!held) return lease_lost(webhook);
    progressed_ = true;
    spdlog::debug("webhook {}: delivered {} event {}", loggable(webhook.url), event.type,
                  event.seq);
    return;
  }
  failed_attempts_.fetch_add(1);
  const int64_t attempts = webhook.attempts + 1;
  if (attempts >= options_.max_attempts) {
    given_up_.fetch_add(1);
    store::WebhookFailureRecord failure{webhook.id, webhook.url,   event.seq,          event.type,
                                        attempts,   outcome.error, core::now_rfc3339()};
    store_.write([&](store::WriteTransaction& tx) {
      held = tx.set_webhook_progress(webhook.id, owner, event.seq, 0, 0, outcome.error);
      if (held) tx.add_webhook_failure(failure);
    });
    if (!held) return lease_lost(webhook);
    progressed_ = true;
    spdlog::warn("webhook {}: gave up delivering {} event {} after {} attempts: {}",
                 loggable(webhook.url), event.type, event.seq, attempts, outcome.error);
    return;
  }
  const auto delay = retry_delay(attempts, options_.retry_base, options_.retry_max, random_unit());
  store_.write([&](store::WriteTransaction& tx) {
    held = tx.set_webhook_progress(webhook.id, owner, webhook.cursor, attempts,
                                   core::unix_now_ms() + delay.count(), outcome.error);
  });
  if (!held) return lease_lost(webhook);
  spdlog::info("webhook {}: attempt {} of {} event {} failed: {}; next in {} ms",
               loggable(webhook.url), attempts, event.type, event.seq, outcome.error,
               delay.count());
}

}  // namespace tams::jobs
