// WriteBatches: group commit. Writes that arrive while a batch is being written wait and are then
// written together, by one of their threads, in one transaction (one fsync for all of them).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

namespace tams::store::sqlite {

template <class Write>
class WriteBatches {
 public:
  // Queues `write` and returns once a batch holding it has been passed to `run_batch`, which is
  // called on this thread or on another submitting thread, never for two batches at once, with
  // the writes in arrival order. `run_batch` must not throw: it reports each write's outcome in
  // the write itself. At most kMaxBatch writes go into one batch.
  template <class RunBatch>
  void submit(Write* write, RunBatch&& run_batch) {
    std::unique_lock lock(mutex_);
    queue_.push_back(write);
    const size_t position = submitted_++;
    while (position >= finished_) {
      if (running_) {
        changed_.wait(lock);
        continue;
      }
      // Lead: take what is queued (this write among it), write it without the lock.
      running_ = true;
      const size_t n = std::min(queue_.size(), kMaxBatch);
      std::vector<Write*> batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      lock.unlock();
      run_batch(std::span<Write* const>(batch));
      lock.lock();
      finished_ += n;
      running_ = false;
      changed_.notify_all();
    }
  }

  // Writes per batch at most (a bound on how long the first of them waits for the last).
  static constexpr size_t kMaxBatch = 64;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Write*> queue_;  // submitted, not yet taken into a batch, in arrival order
  size_t submitted_ = 0;       // writes ever submitted; a write's position is its index
  size_t finished_ = 0;        // writes whose batch has run (batches take the queue in order)
  bool running_ = false;       // a batch is being written
};

}  // namespace tams::store::sqlite
