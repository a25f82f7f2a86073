// Presigned S3 URLs signed per second on one core (and on every core at once): the cost tams
// pays per get_url of a segment listing and per put_url of an allocation.
//
//   cmake --build build --target bench_presign && build/bench_presign [iterations]
//
// The store points at a closed local port: signing never touches the network, and get_url
// signs for some endpoint even when none is healthy.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tams/media/s3/s3_media_store.h"

namespace {

using Clock = std::chrono::steady_clock;

double rate(size_t n, Clock::duration d) {
  return static_cast<double>(n) / std::chrono::duration<double>(d).count();
}

// CPU time of the calling thread: on a shared machine, what one core spends, however often the
// thread was descheduled.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t iterations = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const auto dir = std::filesystem::temp_directory_path() / "tams-bench-presign";
  tams::media::s3::S3Options o;
  o.backend.id = "6f1d7c4e-1b2a-4c3d-8e9f-0a1b2c3d4e5f";
  o.backend.label = "bench";
  o.backend.region = "eu-west-1";
  o.endpoints = {"http://127.0.0.1:9", "http://127.0.0.1:10"};
  o.bucket = "tams-media-bucket";
  o.credentials = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
  o.health_interval = std::chrono::hours(1);
  o.timeout = std::chrono::milliseconds(200);
  auto store = tams::media::s3::S3MediaStore::open(o);

  // Object ids as tams allocates them (UUIDs), plus a path-like prefix clients often use.
  std::vector<std::string> ids;
  for (int i = 0; i < 1024; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "flows/segments/%08x-1b2a-4c3d-8e9f-%012x", i * 7919, i);
    ids.emplace_back(buf);
  }

  size_t total_bytes = 0;
  for (size_t i = 0; i < 10000; ++i) total_bytes += store->get_url("", ids[i & 1023]).size();
  total_bytes = 0;
  const double cpu_start = thread_cpu_seconds();
  const auto start = Clock::now();
  for (size_t i = 0; i < iterations; ++i) total_bytes += store->get_url("", ids[i & 1023]).size();
  const auto one_core = Clock::now() - start;
  const double cpu = thread_cpu_seconds() - cpu_start;

  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  const auto start_all = Clock::now();
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      size_t bytes = 0;
      for (size_t i = 0; i < iterations; ++i) bytes += store->get_url("", ids[(i + t) & 1023]).size();
      if (bytes == 0) std::abort();
    });
  }
  for (auto& w : workers) w.join();
  const auto all_cores = Clock::now() - start_all;

  std::printf("presigned GET URLs, %zu per run, mean URL %zu bytes\n", iterations,
              total_bytes / iterations);
  std::printf("one thread:   %.0f URLs per CPU second (%.2f us of CPU each); %.0f URLs/s wall\n",
              static_cast<double>(iterations) / cpu, cpu * 1e6 / static_cast<double>(iterations),
              rate(iterations, one_core));
  std::printf("%u threads:    %.0f URLs/s wall in total\n", threads,
              rate(iterations * threads, all_cores));
  store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
