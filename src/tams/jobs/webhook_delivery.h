// Delivery of webhook events from the store's outbox, off the request path, on threads of its
// own: at least once, in order per registration (so per flow), with retries.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tams/core/job_lease.h"
#include "tams/core/url_policy.h"
#include "tams/media/backends.h"
#include "tams/store/metadata_store.h"

namespace tams::jobs {

struct WebhookDeliveryOptions {
  int concurrency = 4;                            // sender threads (deliveries in flight)
  std::chrono::milliseconds timeout{5000};        // connect and total time of one attempt
  int64_t max_attempts = 8;                       // then the delivery is recorded as failed
  std::chrono::milliseconds retry_base{1000};     // delay before the first retry
  std::chrono::milliseconds retry_max{300000};    // delays never exceed this
  std::chrono::milliseconds poll_interval{1000};  // look at the outbox at least this often
  // Registrations are claimed under this lease (an empty owner gets a new one); it must be much
  // longer than poll_interval, since each pass renews the leases held.
  core::JobLease lease;
};

// One POST to a receiver.
struct OutgoingPost {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
  std::string body;
};

struct PostOutcome {
  bool delivered = false;  // a 2xx answer
  bool aborted = false;    // interrupted because the worker is stopping: not an attempt
  long status = 0;         // HTTP status, 0 when none was received
  std::string error;       // why it was not delivered (one line)
};

// Sends one POST; `stopping` turns true when the worker stops (abort promptly then).
using PostSender =
    std::function<PostOutcome(const OutgoingPost&, const std::atomic<bool>& stopping)>;

// The libcurl sender: http/https only, no redirects, no proxy, `timeout` for connecting and for
// the whole attempt, and every address it is about to connect to checked against `policy` (DNS
// may have changed since the registration was checked).
PostSender curl_sender(core::UrlPolicy policy, std::chrono::milliseconds timeout);

// Delay before the next attempt after `failed_attempts` (>= 1) failures: exponential
// (base * 2^(n-1), at most `max`) with "equal jitter": half of it fixed, half scaled by
// `jitter` in [0, 1).
std::chrono::milliseconds retry_delay(int64_t failed_attempts, std::chrono::milliseconds base,
                                      std::chrono::milliseconds max, double jitter);

// Counters for logs and a future /metrics (monotonic since start).
struct WebhookCounters {
  uint64_t delivered = 0;        // events a receiver accepted (2xx)
  uint64_t failed_attempts = 0;  // attempts that failed (retried later or given up)
  uint64_t given_up = 0;         // deliveries recorded as failed after the last attempt
  uint64_t filtered = 0;         // events passed over because a registration's filters said so
};

// One dispatcher thread claims registrations and reads the outbox, and hands each registration's
// next matching event to one of `concurrency` sender threads; a registration has at most one
// delivery in flight, so its events arrive in outbox order. Progress (the registration's
// cursor, attempts, next attempt time) is committed after each attempt, so a restart resumes
// where it stopped (an event delivered just before a crash may be delivered again: at least
// once). Request threads only insert outbox rows and nudge().
//
// Several instances may deliver from one store: a registration is worked on only by the
// instance holding its lease (store::WriteTransaction::claim_webhooks). Each pass claims free
// registrations with events, renews the leases held once half is gone, and releases the
// registrations that have had nothing to send for a while, so any instance may take them up
// when new events arrive. Progress is
// written only while the lease is held: an instance that stalled past its lease and was taken
// over drops its delivery (the new holder may send that event again: at least once).
class WebhookDelivery {
 public:
  WebhookDelivery(store::MetadataStore& store, const media::Backends& backends, PostSender sender,
                  WebhookDeliveryOptions options);
  ~WebhookDelivery() { stop(); }
  WebhookDelivery(const WebhookDelivery&) = delete;
  WebhookDelivery& operator=(const WebhookDelivery&) = delete;

  void start();
  // Ends the threads; a delivery in flight is aborted and stays pending. Idempotent.
  void stop();
  // Wakes the dispatcher now (after a commit that added events). Thread-safe, cheap.
  void nudge();

  WebhookCounters counters() const;

 private:
  struct Job {
    store::WebhookRecord webhook;
    store::EventRecord event;
  };

  void dispatch_loop();
  // One pass over the registrations; returns how long to sleep at most.
  std::chrono::milliseconds dispatch_once();
  void send_loop();
  void deliver(const Job& job);
  // Gives up the leases on `ids`; errors are logged (the leases then end on their own).
  void release(const std::vector<int64_t>& ids);
  // Logs that registration `webhook` is no longer ours (removed or taken over).
  void lease_lost(const store::WebhookRecord& webhook) const;

  store::MetadataStore& store_;
  const media::Backends& backends_;
  PostSender sender_;
  WebhookDeliveryOptions options_;

  std::mutex mutex_;
  std::condition_variable dispatcher_wake_;
  std::condition_variable sender_wake_;
  bool nudged_ = false;     // guarded by mutex_
  std::deque<Job> jobs_;    // guarded by mutex_
  std::set<int64_t> busy_;  // registrations with a delivery queued or in flight
  // A pass reads registrations from a snapshot: one whose delivery finished after the snapshot
  // was taken has a stale cursor there and waits for the next pass. epoch_ counts completions;
  // completed_ holds each registration's last completion epoch.
  uint64_t epoch_ = 0;
  std::map<int64_t, uint64_t> completed_;
  // Registrations this instance held after the last pass (dispatcher thread only; released by
  // stop()).
  std::set<int64_t> held_;
  // When each held registration was first seen with nothing to send (dispatcher thread only).
  std::map<int64_t, std::chrono::steady_clock::time_point> idle_since_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> progressed_{false};  // some cursor moved since the last purge
  std::thread dispatcher_;
  std::vector<std::thread> senders_;

  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_attempts_{0};
  std::atomic<uint64_t> given_up_{0};
  std::atomic<uint64_t> filtered_{0};
};

}  // namespace tams::jobs
