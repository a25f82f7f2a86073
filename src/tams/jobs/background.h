// Background work of one instance: deletion requests and garbage collection, off the request
// path, on one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "tams/core/deletions.h"
#include "tams/core/garbage.h"

namespace tams::jobs {

struct BackgroundOptions {
  std::chrono::milliseconds idle_interval{500};  // how often to look for deletion requests
  std::chrono::seconds gc_interval{60};          // how often to collect garbage objects
};

// Starts its thread in start(); stop() (or the destructor) ends it after the current step.
class Background {
 public:
  Background(core::Deletions& deletions, core::GarbageCollector& garbage, BackgroundOptions options)
      : deletions_(deletions), garbage_(garbage), options_(options) {}
  ~Background() { stop(); }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  void start();
  void stop();
  // Wakes the thread now (e.g. after a deletion request was created). Thread-safe.
  void nudge();

 private:
  void run();

  core::Deletions& deletions_;
  core::GarbageCollector& garbage_;
  BackgroundOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool nudged_ = false;
  std::thread thread_;
};

}  // namespace tams::jobs
