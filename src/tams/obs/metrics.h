// Metrics: counters, gauges and fixed-bucket histograms with label sets, and their Prometheus
// text exposition (format 0.0.4). A leaf library: every layer may count things here, and
// GET /metrics prints the registry.
//
// The hot path is lock-free: a caller resolves its series once (Family::with takes a mutex and
// returns a reference that stays valid for the registry's lifetime) and then increments relaxed
// atomics. Only series creation and exposition lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tams::obs {

// A monotonically increasing count. Thread-safe, lock-free.
class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. Thread-safe, lock-free.
class Gauge {
 public:
  void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Counts of observations per bucket, with their sum. Buckets are fixed upper bounds (inclusive,
// as Prometheus' `le`), ascending; +Inf is implicit. Thread-safe, lock-free.
class Histogram {
 public:
  explicit Histogram(std::span<const double> upper_bounds);

  void observe(double value);
  // Observes a duration in seconds.
  void observe(std::chrono::steady_clock::duration d) {
    observe(std::chrono::duration<double>(d).count());
  }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
  };
  // Read while others observe: each bucket is read once, so the result is consistent enough for
  // a scrape (counts never go down), not an atomic snapshot.
  Snapshot snapshot() const;
  std::span<const double> upper_bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bound, then the +Inf overflow
  std::atomic<double> sum_{0};
};

// Bucket sets used across the server.
namespace buckets {
// Request latency, 100 µs to 10 s.
extern const std::vector<double> kRequestSeconds;
// Database statement time, 10 µs to 2.5 s.
extern const std::vector<double> kQuerySeconds;
// Response body sizes, 64 B to 16 MiB.
extern const std::vector<double> kBytes;
}  // namespace buckets

enum class MetricType { kCounter, kGauge, kHistogram };

// All series of one metric name, one per combination of label values. Series are never removed,
// so label values must come from small fixed sets (route templates, statement names), never from
// client input. Thread-safe.
template <class Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // The series with these label values (in the order of the family's label names), created at
  // zero on first use. The reference stays valid for the family's lifetime. Throws
  // std::invalid_argument when the number of values differs from the number of label names.
  Metric& with(std::initializer_list<std::string_view> values) {
    return with(std::vector<std::string>(values.begin(), values.end()));
  }
  Metric& with(std::vector<std::string> values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls fn(label values, metric) for every series in label order, under the family's lock.
  void each(const std::function<void(const std::vector<std::string>&, const Metric&)>& fn) const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

// A set of metric families, printed together. Families are created on first request and kept
// for the registry's lifetime; asking again for a name returns the same family. Thread-safe.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry that the server's layers count in.
  static Registry& global();

  // Each throws std::logic_error when `name` exists with another type or other label names.
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names,
                               const std::vector<double>& upper_bounds);

  // One series of a callback family: label values (in label-name order) and the value.
  struct Sample {
    std::vector<std::string> label_values;
    double value = 0;
  };
  // A family (counter or gauge, not histogram) whose series `read` computes at exposition time
  // from counts kept elsewhere (pool sizes, process RSS, a component's own counters). `read`
  // must be quick and thread-safe; it replaces an earlier callback of the same name. Call
  // remove_callback(name) before whatever `read` refers to goes away.
  void callback_family(const std::string& name, const std::string& help, MetricType type,
                       std::vector<std::string> label_names,
                       std::function<std::vector<Sample>()> read);
  // A callback family of one unlabelled gauge.
  void callback_gauge(const std::string& name, const std::string& help,
                      std::function<double()> read);
  void remove_callback(const std::string& name);

  // Every family in name order, in the Prometheus text format 0.0.4.
  std::string expose() const;

 private:
  struct Entry {
    MetricType type;
    std::string help;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
    std::vector<std::string> callback_labels;
    std::function<std::vector<Sample>()> callback;
  };
  Entry& entry(const std::string& name, MetricType type, const std::string& help,
               const std::vector<std::string>& label_names);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

// Appends `value` escaped for a label value (backslash, double quote, newline).
void append_label_value(std::string& out, std::string_view value);

}  // namespace tams::obs
