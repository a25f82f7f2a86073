#include "tams/jobs/background.h"

#include <spdlog/spdlog.h>

#include <ctime>

namespace tams::jobs {

void Background::start() { thread_ = std::thread([this] { run(); }); }

void Background::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Background::nudge() {
  {
    std::lock_guard lock(mutex_);
    nudged_ = true;
  }
  wake_.notify_all();
}

void Background::run() {
  auto next_gc = std::chrono::steady_clock::now();
  for (;;) {
    bool more = false;
    try {
      more = deletions_.work(std::chrono::milliseconds(200));
      if (std::chrono::steady_clock::now() >= next_gc) {
        const int64_t removed = garbage_.collect(static_cast<int64_t>(std::time(nullptr)));
        if (removed > 0) spdlog::info("garbage collection removed {} media objects", removed);
        next_gc = std::chrono::steady_clock::now() + options_.gc_interval;
      }
    } catch (const std::exception& e) {
      spdlog::error("background work failed (will retry): {}", e.what());
    }
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    if (!more) {
      wake_.wait_for(lock, options_.idle_interval, [this] { return stopping_ || nudged_; });
    }
    nudged_ = false;
    if (stopping_) return;
  }
}

}  // namespace tams::jobs
