#include "tams/obs/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tams::obs {

namespace buckets {
const std::vector<double> kRequestSeconds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                             0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                             1,      2.5,     5,      10};
const std::vector<double> kQuerySeconds = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                           0.001,   0.0025,   0.005,   0.01,   0.025,   0.05,
                                           0.1,     0.25,     1,       2.5};
const std::vector<double> kBytes = {64,    256,    1024,    4096,    16384,
                                    65536, 262144, 1048576, 4194304, 16777216};
}  // namespace buckets

// ---- Histogram ----

Histogram::Histogram(std::span<const double> upper_bounds)
    : bounds_(upper_bounds.begin(), upper_bounds.end()),
      counts_(new std::atomic<uint64_t>[upper_bounds.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) {
    throw std::invalid_argument("histogram bounds must be ascending");
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  // Few buckets: a linear scan beats a binary search here.
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---- Family ----

template <class Metric>
Metric& Family<Metric>::with(std::vector<std::string> values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(fmt::format("metric {} takes {} label values, not {}", name_,
                                            label_names_.size(), values.size()));
  }
  std::lock_guard lock(mutex_);
  auto found = series_.find(values);
  if (found != series_.end()) return *found->second;
  std::unique_ptr<Metric> metric;
  if constexpr (std::is_same_v<Metric, Histogram>) {
    metric = std::make_unique<Histogram>(bounds_);
  } else {
    metric = std::make_unique<Metric>();
  }
  return *series_.emplace(std::move(values), std::move(metric)).first->second;
}

template <class Metric>
void Family<Metric>::each(
    const std::function<void(const std::vector<std::string>&, const Metric&)>& fn) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, metric] : series_) fn(values, *metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Exposition ----

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

namespace {

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}` (or "" without labels), with an optional extra label last (histogram `le`).
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    append_label_value(out, values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out.append(extra_name).append("=\"").append(extra_value).append("\"");
  }
  out += '}';
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

void append_help(std::string& out, const std::string& help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

Registry& Registry::global() {
  static Registry* registry = new Registry();  // never destroyed: series outlive static teardown
  return *registry;
}

Registry::Entry& Registry::entry(const std::string& name, MetricType type, const std::string& help,
                                 const std::vector<std::string>& label_names) {
  auto found = entries_.find(name);
  if (found != entries_.end()) {
    const Entry& e = found->second;
    const std::vector<std::string>* existing_labels = nullptr;
    if (e.counters) existing_labels = &e.counters->label_names();
    if (e.gauges) existing_labels = &e.gauges->label_names();
    if (e.histograms) existing_labels = &e.histograms->label_names();
    if (e.type != type || e.callback || (existing_labels && *existing_labels != label_names)) {
      throw std::logic_error("metric " + name + " is already registered differently");
    }
    return found->second;
  }
  Entry& e = entries_[name];
  e.type = type;
  e.help = help;
  return e;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  Entry& e = entry(name, MetricType::kCounter, help, label_names);
  if (!e.counters) e.counters = std::make_unique<Family<Counter>>(name, help, label_names);
  return *e.counters;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  Entry& e = entry(name, MetricType::kGauge, help, label_names);
  if (!e.gauges) e.gauges = std::make_unique<Family<Gauge>>(name, help, label_names);
  return *e.gauges;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       const std::vector<double>& upper_bounds) {
  std::lock_guard lock(mutex_);
  Entry& e = entry(name, MetricType::kHistogram, help, label_names);
  if (!e.histograms) {
    e.histograms = std::make_unique<Family<Histogram>>(name, help, label_names, upper_bounds);
  }
  return *e.histograms;
}

void Registry::callback_family(const std::string& name, const std::string& help, MetricType type,
                               std::vector<std::string> label_names,
                               std::function<std::vector<Sample>()> read) {
  if (type == MetricType::kHistogram) {
    throw std::logic_error("metric " + name + ": callback families cannot be histograms");
  }
  std::lock_guard lock(mutex_);
  auto found = entries_.find(name);
  if (found != entries_.end() && !found->second.callback) {
    throw std::logic_error("metric " + name + " is already registered differently");
  }
  Entry& e = entries_[name];
  e.type = type;
  e.help = help;
  e.callback_labels = std::move(label_names);
  e.callback = std::move(read);
}

void Registry::callback_gauge(const std::string& name, const std::string& help,
                              std::function<double()> read) {
  callback_family(name, help, MetricType::kGauge, {}, [read = std::move(read)] {
    return std::vector<Sample>{{{}, read()}};
  });
}

void Registry::remove_callback(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(name);
  if (found != entries_.end() && found->second.callback) entries_.erase(found);
}

std::string Registry::expose() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, e] : entries_) {
    out += "# HELP " + name + ' ';
    append_help(out, e.help);
    out += "\n# TYPE " + name + ' ' + type_name(e.type) + '\n';
    if (e.callback) {
      for (const Sample& sample : e.callback()) {
        if (sample.label_values.size() != e.callback_labels.size()) continue;
        out += name + label_set(e.callback_labels, sample.label_values) + ' ' +
               number(sample.value) + '\n';
      }
    } else if (e.counters) {
      const auto& f = *e.counters;
      f.each([&](const std::vector<std::string>& values, const Counter& c) {
        out += name + label_set(f.label_names(), values) + ' ' + std::to_string(c.value()) + '\n';
      });
    } else if (e.gauges) {
      const auto& f = *e.gauges;
      f.each([&](const std::vector<std::string>& values, const Gauge& g) {
        out += name + label_set(f.label_names(), values) + ' ' + std::to_string(g.value()) + '\n';
      });
    } else if (e.histograms) {
      const auto& f = *e.histograms;
      f.each([&](const std::vector<std::string>& values, const Histogram& h) {
        const auto s = h.snapshot();
        const auto bounds = h.upper_bounds();
        for (size_t i = 0; i < s.cumulative.size(); ++i) {
          const std::string le = i < bounds.size() ? number(bounds[i]) : "+Inf";
          out += name + "_bucket" + label_set(f.label_names(), values, "le", le) + ' ' +
                 std::to_string(s.cumulative[i]) + '\n';
        }
        out += name + "_sum" + label_set(f.label_names(), values) + ' ' + number(s.sum) + '\n';
        out += name + "_count" + label_set(f.label_names(), values) + ' ' +
               std::to_string(s.cumulative.back()) + '\n';
      });
    }
  }
  return out;
}

}  // namespace tams::obs
