#include "tams/http/request_metrics.h"

namespace tams::http {

namespace {

constexpr const char* kUnmatched = "(unmatched)";
constexpr std::array<const char*, 5> kClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};

// The metric in `slot`, made by `make` on first use. Racing first uses resolve the same series.
template <class Metric, class Make>
Metric& resolve(std::atomic<Metric*>& slot, Make make) {
  Metric* m = slot.load(std::memory_order_acquire);
  if (m == nullptr) {
    m = &make();
    slot.store(m, std::memory_order_release);
  }
  return *m;
}

void name_slots(std::array<const char*, 7> methods, const std::string& route, auto& slots) {
  for (size_t m = 0; m < methods.size(); ++m) {
    slots[m].method = methods[m];
    slots[m].route = route;
  }
}

}  // namespace

RequestMetrics::RequestMetrics(const Router& router, obs::Registry& registry)
    : requests_(
          &registry.counter("tams_http_requests_total",
                            "HTTP requests answered, by method, route template and status class.",
                            {"method", "route", "status"})),
      durations_(&registry.histogram(
          "tams_http_request_duration_seconds",
          "Time from a request's arrival (headers and body read) to its response being ready.",
          {"method", "route"}, obs::buckets::kRequestSeconds)),
      sizes_(&registry.histogram("tams_http_response_size_bytes",
                                 "Size of response bodies (HEAD: of the GET body).",
                                 {"method", "route"}, obs::buckets::kBytes)),
      in_flight_(&registry.gauge("tams_http_requests_in_flight", "HTTP requests being handled now.")
                      .with({})),
      routes_(new Slots[router.route_count()]),
      route_count_(router.route_count()) {
  std::array<const char*, kMethods> methods{};
  for (size_t m = 0; m < kMethods; ++m) methods[m] = method_name(static_cast<Method>(m));
  for (size_t i = 0; i < route_count_; ++i)
    name_slots(methods, router.route_template(i), routes_[i]);
  name_slots(methods, kUnmatched, unmatched_);
}

void RequestMetrics::record(Method method, long route_index, int status, uint64_t response_bytes,
                            std::chrono::steady_clock::duration elapsed) const {
  const size_t m = static_cast<size_t>(method);
  const Slot& slot = route_index >= 0 && static_cast<size_t>(route_index) < route_count_
                         ? routes_[route_index][m]
                         : unmatched_[m];
  const size_t status_class = status >= 100 && status < 600 ? status / 100 - 1 : 4;
  resolve(slot.by_class[status_class], [&]() -> obs::Counter& {
    return requests_->with({slot.method, slot.route, kClasses[status_class]});
  }).inc();
  resolve(slot.duration, [&]() -> obs::Histogram& {
    return durations_->with({slot.method, slot.route});
  }).observe(elapsed);
  resolve(slot.size, [&]() -> obs::Histogram& {
    return sizes_->with({slot.method, slot.route});
  }).observe(static_cast<double>(response_bytes));
}

}  // namespace tams::http
