// The metrics registry and its Prometheus text exposition.
#include "tams/obs/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tams::obs {
namespace {

TEST(MetricsTest, CounterAndGaugeExposition) {
  Registry r;
  auto& requests = r.counter("t_requests_total", "Requests.", {"route", "status"});
  requests.with({"/flows/{flowId}", "2xx"}).inc();
  requests.with({"/flows/{flowId}", "2xx"}).inc(2);
  requests.with({"/sources", "4xx"}).inc();
  r.gauge("t_in_flight", "In flight.").with({}).set(-3);
  EXPECT_EQ(r.expose(),
            "# HELP t_in_flight In flight.\n"
            "# TYPE t_in_flight gauge\n"
            "t_in_flight -3\n"
            "# HELP t_requests_total Requests.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{route=\"/flows/{flowId}\",status=\"2xx\"} 3\n"
            "t_requests_total{route=\"/sources\",status=\"4xx\"} 1\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  const std::vector<double> bounds = {0.1, 1};
  auto& h = r.histogram("t_seconds", "Time.", {"q"}, bounds).with({"a"});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive
  h.observe(0.5);
  h.observe(7);
  EXPECT_EQ(r.expose(),
            "# HELP t_seconds Time.\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_bucket{q=\"a\",le=\"0.1\"} 2\n"
            "t_seconds_bucket{q=\"a\",le=\"1\"} 3\n"
            "t_seconds_bucket{q=\"a\",le=\"+Inf\"} 4\n"
            "t_seconds_sum{q=\"a\"} 7.65\n"
            "t_seconds_count{q=\"a\"} 4\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.counter("t_total", "a \\ b\nc", {"v"}).with({"x\"y\\z\nw"}).inc();
  EXPECT_EQ(r.expose(),
            "# HELP t_total a \\\\ b\\nc\n"
            "# TYPE t_total counter\n"
            "t_total{v=\"x\\\"y\\\\z\\nw\"} 1\n");
}

TEST(MetricsTest, SameNameGivesTheSameFamilyAndConflictsThrow) {
  Registry r;
  auto& a = r.counter("t_total", "A.", {"x"});
  auto& b = r.counter("t_total", "A.", {"x"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.with({"1"}), &b.with({"1"}));
  EXPECT_THROW(r.gauge("t_total", "A.", {"x"}), std::logic_error);
  EXPECT_THROW(r.counter("t_total", "A.", {"y"}), std::logic_error);
  EXPECT_THROW(a.with({"1", "2"}), std::invalid_argument);
}

TEST(MetricsTest, CallbackFamiliesAreReadAtExpositionAndCanBeRemoved) {
  Registry r;
  int calls = 0;
  r.callback_family("t_pool", "Pool.", MetricType::kGauge, {"state"}, [&calls] {
    ++calls;
    return std::vector<Registry::Sample>{{{"idle"}, 2}, {{"in_use"}, 1}};
  });
  r.callback_gauge("t_rss", "RSS.", [] { return 1024.0; });
  EXPECT_EQ(r.expose(),
            "# HELP t_pool Pool.\n"
            "# TYPE t_pool gauge\n"
            "t_pool{state=\"idle\"} 2\n"
            "t_pool{state=\"in_use\"} 1\n"
            "# HELP t_rss RSS.\n"
            "# TYPE t_rss gauge\n"
            "t_rss 1024\n");
  EXPECT_EQ(calls, 1);
  r.remove_callback("t_pool");
  r.remove_callback("t_rss");
  EXPECT_EQ(r.expose(), "");
  EXPECT_THROW(r.callback_family("t_h", "H.", MetricType::kHistogram, {}, {}), std::logic_error);
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& c = r.counter("t_total", "T.").with({});
  auto& h = r.histogram("t_seconds", "T.", {}, buckets::kQuerySeconds).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.snapshot().cumulative.back(), 40000u);
}

}  // namespace
}  // namespace tams::obs
