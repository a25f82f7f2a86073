// LruCache: a bounded in-process cache with generation-checked inserts, counting hits, misses
// and evictions.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tams/obs/metrics.h"

namespace tams::core {

// Values are immutable and shared: a hit hands out a reference to the cached value, never a
// copy. Entries are keyed by (group, key); a group (a flow id) can be dropped at once. Each
// entry has a cost (1, or e.g. the number of segments in a page) and the total cost is bounded.
//
// Staleness: a reader that loaded a value from the database before a write committed must not
// put it into the cache after the write's invalidation ran. So a loader takes generation()
// *before* it starts its read, and insert() refuses the value when any invalidation happened
// since (every invalidation bumps the generation under the same lock). A writer invalidates
// after its commit: a value inserted between the commit and the invalidation is erased by it.
//
// Thread-safe: one mutex guards the map and the recency list (held for a hash lookup and a list
// splice). Not copyable.
template <class V>
class LruCache {
 public:
  struct Counters {
    obs::Counter* hits;
    obs::Counter* misses;
    obs::Counter* evictions;  // entries pushed out by the size bound
    obs::Gauge* entries;      // entries held now
  };

  // Whether a first miss is cached at once, or only a key missed twice recently.
  enum class Admission {
    kFirstMiss,
    // A key is cached on its second miss within the last ~kDoorkeeperSlots distinct misses:
    // keys asked for once (random timerange windows) never churn the cache, keys asked for
    // again (players polling a live tail) are cached from their second request on.
    kSecondMiss,
  };

  // Holds entries of total cost at most `max_cost` (0 disables the cache: nothing is kept,
  // lookups miss without counting). Entries older than `max_age` are not served (zero: no age
  // limit).
  LruCache(size_t max_cost, std::chrono::steady_clock::duration max_age, Counters counters,
           Admission admission = Admission::kFirstMiss)
      : max_cost_(max_cost), max_age_(max_age), counters_(counters), admission_(admission) {}
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  bool enabled() const { return max_cost_ > 0; }

  // Take before loading a value to insert().
  uint64_t generation() const {
    std::lock_guard lock(mutex_);
    return generation_;
  }

  // The cached value, or null (a miss). Counts the hit or miss.
  std::shared_ptr<const V> find(std::string_view group, std::string_view key) {
    if (!enabled()) return nullptr;
    std::lock_guard lock(mutex_);
    auto g = groups_.find(group);
    if (g != groups_.end()) {
      auto e = g->second.find(key);
      if (e != g->second.end()) {
        auto it = e->second;
        if (max_age_.count() == 0 || std::chrono::steady_clock::now() - it->inserted < max_age_) {
          lru_.splice(lru_.begin(), lru_, it);
          counters_.hits->inc();
          return it->value;
        }
        erase_locked(it);  // too old: dropped, then counted as a miss
      }
    }
    counters_.misses->inc();
    return nullptr;
  }

  // Caches `value` unless an invalidation happened after `generation` was taken (the value may
  // then be stale), or its cost alone exceeds the bound. Evicts the least recently used entries
  // beyond the bound.
  void insert(std::string group, std::string key, std::shared_ptr<const V> value,
              uint64_t generation, size_t cost = 1) {
    if (!enabled() || cost > max_cost_) return;
    std::lock_guard lock(mutex_);
    if (generation != generation_) return;
    if (admission_ == Admission::kSecondMiss && !seen_before_locked(group, key)) return;
    if (auto g = groups_.find(group); g != groups_.end()) {
      if (auto e = g->second.find(key); e != g->second.end()) erase_locked(e->second);
    }
    lru_.push_front(Entry{group, key, std::move(value), std::chrono::steady_clock::now(), cost});
    cost_ += cost;
    groups_[group].emplace(std::move(key), lru_.begin());
    while (cost_ > max_cost_) {
      erase_locked(std::prev(lru_.end()));
      counters_.evictions->inc();
    }
    counters_.entries->set(static_cast<int64_t>(lru_.size()));
  }

  // Drops every entry of `group`.
  void erase_group(std::string_view group) {
    std::lock_guard lock(mutex_);
    ++generation_;
    auto g = groups_.find(group);
    if (g == groups_.end()) return;
    for (auto& [key, it] : g->second) {
      cost_ -= it->cost;
      lru_.erase(it);
    }
    groups_.erase(g);
    counters_.entries->set(static_cast<int64_t>(lru_.size()));
  }

  // Drops everything.
  void clear() {
    std::lock_guard lock(mutex_);
    ++generation_;
    lru_.clear();
    groups_.clear();
    cost_ = 0;
    counters_.entries->set(0);
  }

  // The cached value, or the one `load()` (returning std::shared_ptr<V>) reads, which is then
  // cached under the generation taken before it ran. `load` may throw: nothing is cached.
  // `cost(const V&)` gives the entry's cost.
  template <class Load, class Cost>
  std::shared_ptr<const V> find_or_load(const std::string& group, const std::string& key,
                                        Load&& load, Cost&& cost) {
    if (auto hit = find(group, key)) return hit;
    const uint64_t before = generation();
    std::shared_ptr<const V> value = load();
    insert(group, key, value, before, cost(*value));
    return value;
  }
  template <class Load>
  std::shared_ptr<const V> find_or_load(const std::string& group, const std::string& key,
                                        Load&& load) {
    return find_or_load(group, key, std::forward<Load>(load), [](const V&) { return 1; });
  }

  size_t size() const {
    std::lock_guard lock(mutex_);
    return lru_.size();
  }

 private:
  struct Entry {
    std::string group;
    std::string key;
    std::shared_ptr<const V> value;
    std::chrono::steady_clock::time_point inserted;
    size_t cost;
  };
  using Iterator = typename std::list<Entry>::iterator;
  // Transparent hashing: lookups by string_view allocate nothing.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Group = std::unordered_map<std::string, Iterator, Hash, std::equal_to<>>;

  // Records the key in the doorkeeper; true when it was there already (a hash collision may
  // admit a key early, which is harmless).
  bool seen_before_locked(std::string_view group, std::string_view key) {
    const size_t h = std::hash<std::string_view>{}(group)*31 + std::hash<std::string_view>{}(key);
    size_t& slot = doorkeeper_[h % doorkeeper_.size()];
    const bool seen = slot == h;
    slot = h;
    return seen;
  }

  void erase_locked(Iterator it) {
    auto g = groups_.find(it->group);
    if (g != groups_.end()) {
      g->second.erase(it->key);
      if (g->second.empty()) groups_.erase(g);
    }
    cost_ -= it->cost;
    lru_.erase(it);
    counters_.entries->set(static_cast<int64_t>(lru_.size()));
  }

  const size_t max_cost_;
  const std::chrono::steady_clock::duration max_age_;
  const Counters counters_;
  const Admission admission_;
  static constexpr size_t kDoorkeeperSlots = 4096;
  std::array<size_t, kDoorkeeperSlots> doorkeeper_{};  // key hashes of recent misses
  mutable std::mutex mutex_;
  uint64_t generation_ = 0;
  size_t cost_ = 0;       // of the entries held
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, Group, Hash, std::equal_to<>> groups_;
};

}  // namespace tams::core
