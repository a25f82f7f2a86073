// LruCache: bounds, recency, groups, age, and the generation check that keeps stale loads out.
#include "tams/core/lru_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tams::core {
namespace {

struct Fixture {
  obs::Registry registry;
  obs::Counter& hits = registry.counter("hits", "").with({});
  obs::Counter& misses = registry.counter("misses", "").with({});
  obs::Counter& evictions = registry.counter("evictions", "").with({});
  obs::Gauge& entries = registry.gauge("entries", "").with({});
  LruCache<int>::Counters counters() { return {&hits, &misses, &evictions, &entries}; }
};

std::shared_ptr<const int> value(int v) { return std::make_shared<const int>(v); }

TEST(LruCacheTest, HitsMissesAndLeastRecentlyUsedEviction) {
  Fixture f;
  LruCache<int> cache(2, {}, f.counters());
  cache.insert("a", "", value(1), cache.generation());
  cache.insert("b", "", value(2), cache.generation());
  ASSERT_TRUE(cache.find("a", ""));                     // a is now the most recent
  cache.insert("c", "", value(3), cache.generation());  // evicts b
  EXPECT_FALSE(cache.find("b", ""));
  EXPECT_EQ(*cache.find("a", ""), 1);
  EXPECT_EQ(*cache.find("c", ""), 3);
  EXPECT_EQ(f.hits.value(), 3u);
  EXPECT_EQ(f.misses.value(), 1u);
  EXPECT_EQ(f.evictions.value(), 1u);
  EXPECT_EQ(f.entries.value(), 2);
}

TEST(LruCacheTest, CostBoundsTheTotal) {
  Fixture f;
  LruCache<int> cache(10, {}, f.counters());
  cache.insert("f", "page1", value(1), cache.generation(), 6);
  cache.insert("f", "page2", value(2), cache.generation(), 6);  // 12 > 10: page1 goes
  EXPECT_FALSE(cache.find("f", "page1"));
  EXPECT_TRUE(cache.find("f", "page2"));
  cache.insert("f", "huge", value(3), cache.generation(), 11);  // larger than the bound: not kept
  EXPECT_FALSE(cache.find("f", "huge"));
  EXPECT_TRUE(cache.find("f", "page2"));
}

TEST(LruCacheTest, EraseGroupDropsAllItsEntriesOnly) {
  Fixture f;
  LruCache<int> cache(10, {}, f.counters());
  cache.insert("flow1", "q1", value(1), cache.generation());
  cache.insert("flow1", "q2", value(2), cache.generation());
  cache.insert("flow2", "q1", value(3), cache.generation());
  cache.erase_group("flow1");
  EXPECT_FALSE(cache.find("flow1", "q1"));
  EXPECT_FALSE(cache.find("flow1", "q2"));
  EXPECT_EQ(*cache.find("flow2", "q1"), 3);
  EXPECT_EQ(cache.size(), 1u);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
}

TEST(LruCacheTest, ALoadThatStartedBeforeAnInvalidationIsNotCached) {
  Fixture f;
  LruCache<int> cache(10, {}, f.counters());
  const uint64_t before = cache.generation();   // a reader starts loading the old value
  cache.erase_group("flow1");                   // a writer commits and invalidates
  cache.insert("flow1", "", value(1), before);  // the reader's stale value
  EXPECT_FALSE(cache.find("flow1", ""));
  cache.insert("flow1", "", value(2), cache.generation());
  EXPECT_EQ(*cache.find("flow1", ""), 2);
}

TEST(LruCacheTest, EntriesOlderThanMaxAgeAreNotServed) {
  Fixture f;
  LruCache<int> cache(10, std::chrono::milliseconds(20), f.counters());
  cache.insert("f", "", value(1), cache.generation());
  EXPECT_TRUE(cache.find("f", ""));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(cache.find("f", ""));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(LruCacheTest, ZeroSizeDisablesTheCache) {
  Fixture f;
  LruCache<int> cache(0, {}, f.counters());
  EXPECT_FALSE(cache.enabled());
  cache.insert("f", "", value(1), cache.generation());
  EXPECT_FALSE(cache.find("f", ""));
  EXPECT_EQ(f.misses.value(), 0u);
}

// Writers bump a "database" value and invalidate; readers load through the cache. After the
// last write, a read must see the last value: a stale load can never survive an invalidation.
TEST(LruCacheTest, ConcurrentReadersNeverKeepAStaleValue) {
  Fixture f;
  LruCache<int> cache(4, {}, f.counters());
  std::atomic<int> database{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        cache.find_or_load("flow", "", [&] {
          auto v = std::make_shared<int>(database.load());
          std::this_thread::yield();  // widen the window between the read and the insert
          return v;
        });
      }
    });
  }
  for (int i = 1; i <= 2000; ++i) {
    database.store(i);
    cache.erase_group("flow");
    const auto seen =
        cache.find_or_load("flow", "", [&] { return std::make_shared<int>(database.load()); });
    ASSERT_EQ(*seen, i);
  }
  stop = true;
  for (auto& t : readers) t.join();
}

}  // namespace
}  // namespace tams::core

namespace tams::core {
namespace {

TEST(LruCacheTest, SecondMissAdmissionCachesOnlyKeysAskedForAgain) {
  Fixture f;
  LruCache<int> cache(10, {}, f.counters(), LruCache<int>::Admission::kSecondMiss);
  for (int i = 0; i < 5; ++i) {  // five different keys, once each: nothing is kept
    cache.find_or_load("flow", std::to_string(i), [&] { return std::make_shared<int>(i); });
  }
  EXPECT_EQ(cache.size(), 0u);
  cache.find_or_load("flow", "tail", [] { return std::make_shared<int>(7); });
  EXPECT_EQ(cache.size(), 0u);
  cache.find_or_load("flow", "tail", [] { return std::make_shared<int>(7); });  // asked again
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(*cache.find("flow", "tail"), 7);
}

}  // namespace
}  // namespace tams::core
