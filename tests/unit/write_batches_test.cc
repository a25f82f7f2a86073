#include "tams/store/sqlite/write_batches.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace tams::store::sqlite {
namespace {

struct Item {
  int id = 0;
  int runs = 0;  // how often a batch ran it
};

TEST(WriteBatches, RunsEveryWriteOnceAndBatchesConcurrentOnes) {
  WriteBatches<Item> batches;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::atomic<int> running{0};
  std::atomic<bool> overlapped{false};
  std::atomic<size_t> largest{0};
  std::mutex seen_mutex;
  std::vector<int> seen;  // ids in the order the batches ran them
  std::vector<std::thread> threads;
  std::vector<std::vector<Item>> items(kThreads, std::vector<Item>(kPerThread));
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Item& item = items[t][i];
        item.id = t * kPerThread + i;
        batches.submit(&item, [&](std::span<Item* const> batch) {
          if (running.fetch_add(1) != 0) overlapped = true;
          size_t seen_largest = largest.load();
          while (batch.size() > seen_largest &&
                 !largest.compare_exchange_weak(seen_largest, batch.size())) {
          }
          {
            std::lock_guard lock(seen_mutex);
            for (Item* it : batch) {
              ++it->runs;
              seen.push_back(it->id);
            }
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a slow "fsync"
          running.fetch_sub(1);
        });
        // Returned: its batch has run.
        EXPECT_EQ(item.runs, 1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(overlapped);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& row : items) {
    for (const Item& item : row) EXPECT_EQ(item.runs, 1);
  }
  // Eight writers against a 1 ms batch: writes arriving meanwhile went in together.
  EXPECT_GT(largest.load(), 1u);
  EXPECT_LE(largest.load(), WriteBatches<Item>::kMaxBatch);
  // Each thread's writes ran in its submission order.
  for (int t = 0; t < kThreads; ++t) {
    int last = -1;
    for (int id : seen) {
      if (id / kPerThread != t) continue;
      EXPECT_GT(id, last);
      last = id;
    }
  }
}

TEST(WriteBatches, ALoneWriteRunsOnItsOwnThread) {
  WriteBatches<Item> batches;
  Item item;
  std::thread::id ran_on;
  size_t size = 0;
  batches.submit(&item, [&](std::span<Item* const> batch) {
    ran_on = std::this_thread::get_id();
    size = batch.size();
  });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(size, 1u);
}

}  // namespace
}  // namespace tams::store::sqlite
