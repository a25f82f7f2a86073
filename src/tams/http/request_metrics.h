// RequestMetrics: what the HTTP layer counts per route — requests by method, route template and
// status class, their latency and response size, and requests in flight.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tams/http/message.h"
#include "tams/http/router.h"
#include "tams/obs/metrics.h"

namespace tams::http {

// Labels carry the route template ("/flows/{flowId}"), never the raw path, so the number of
// series is bounded by the routes. A series appears on the first request that needs it (so a
// scrape lists what was used, not every route at zero) and is then remembered per route, so
// recording is a few relaxed atomic operations without a lock or a map lookup. Thread-safe.
class RequestMetrics {
 public:
  RequestMetrics(const Router& router, obs::Registry& registry);

  obs::Gauge& in_flight() const { return *in_flight_; }

  // Records an answered request. `route_index` is Router::Match::index, or -1 when no route
  // matched (404, 405, OPTIONS, malformed): those are counted under route "(unmatched)".
  void record(Method method, long route_index, int status, uint64_t response_bytes,
              std::chrono::steady_clock::duration elapsed) const;

 private:
  static constexpr size_t kMethods = 7;  // Method's enumerators
  // The series of one (method, route), resolved on first use.
  struct Slot {
    std::string method;
    std::string route;
    mutable std::array<std::atomic<obs::Counter*>, 5> by_class{};  // status 1xx .. 5xx
    mutable std::atomic<obs::Histogram*> duration{nullptr};
    mutable std::atomic<obs::Histogram*> size{nullptr};
  };
  using Slots = std::array<Slot, kMethods>;

  obs::Family<obs::Counter>* requests_;
  obs::Family<obs::Histogram>* durations_;
  obs::Family<obs::Histogram>* sizes_;
  obs::Gauge* in_flight_;
  std::unique_ptr<Slots[]> routes_;  // by route index, then by method
  size_t route_count_;
  Slots unmatched_;
};

}  // namespace tams::http
