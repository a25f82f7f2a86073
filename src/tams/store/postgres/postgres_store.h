// PostgresStore: the MetadataStore on PostgreSQL (libpq), with a primary for writes and any
// number of streaming read replicas.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tams/store/metadata_store.h"

namespace tams::store::postgres {

class ChangeFeed;
class Endpoint;
class HealthCheck;

// One fixed SQL statement of the store and the name of its constant.
struct NamedSql {
  std::string_view name;
  std::string_view sql;
};
// The store's fixed statements on segments, objects and deletion requests (the timeline's hot
// paths), for tests that check their query plans.
std::span<const NamedSql> timeline_statements();

struct PostgresOptions {
  std::string primary;                // postgres:// URI or conninfo of the primary
  std::vector<std::string> replicas;  // streaming replicas of it, for reads
  // Replicas further behind than this (estimated by the health check) are not read from while
  // the primary is up.
  int64_t replica_max_lag_ms = 1000;
  // Read-your-writes: for this long after a write() that changed something commits, the reads
  // of the same ReadAffinity key (the same client) go to the primary (replicas only when it
  // fails). 0: never pinned. Reads without a key (background jobs) always go to the primary.
  int64_t read_primary_after_write_ms = 1000;
  std::chrono::milliseconds health_interval{1000};
};

// A read endpoint's state as last seen, for diagnostics and tests.
struct EndpointStatus {
  std::string label;  // the URL without its password
  bool primary = false;
  bool up = false;
  bool in_recovery = false;
  int64_t lag_ms = -1;
};

// MetadataStore over PostgreSQL.
//
// Each endpoint has a pool of connections; every statement is a named constant, prepared once
// per connection. write() runs on the primary in one READ COMMITTED transaction that first takes
// pg_advisory_xact_lock(kWriteLockKey): write transactions of every tams instance on the
// database run one at a time, which keeps the SQLite store's semantics exactly (an overlap check
// and the insert it guards cannot race; event seqs commit in ascending order). Commits are
// durable (synchronous_commit on). read() runs in one READ ONLY REPEATABLE READ transaction (one
// snapshot) on a replica chosen by read_order() (round-robin over fresh replicas, the primary
// during the client's read-your-writes window or when no replica is fresh); when that endpoint
// fails, the read runs once more on the next one, so `fn` may run twice. A HealthCheck thread
// follows every endpoint; broken connections are dropped, so an endpoint that comes back is used
// again without a restart.
//
// Failures: read() and write() throw store::Unavailable when no endpoint that could serve them
// answers (write(): the primary), std::runtime_error for other database errors, and propagate
// exceptions from `fn` (after rolling back). Thread-safe; not copyable.
class PostgresStore final : public MetadataStore {
 public:
  // Connects to the primary, applies pending migrations (under an advisory lock: several
  // instances may start at once), runs one health check of every endpoint and starts the
  // background checks. Replicas may be down at start. Throws store::Unavailable when the primary
  // cannot be reached, std::runtime_error when migrating fails; messages never contain
  // passwords.
  static std::unique_ptr<PostgresStore> open(const PostgresOptions& options);

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;
  ~PostgresStore() override;

  void read(const std::function<void(Reader&)>& fn) override;
  // Without BEGIN/COMMIT: list_segments is one statement here.
  model::Page<SegmentRecord> read_segment_page(const SegmentQuery& query) override;
  void write(const std::function<void(WriteTransaction&)>& fn) override;
  // See MetadataStore. The listener runs on the committing thread after the commit.
  void set_event_listener(std::function<void()> listener) override;
  // See MetadataStore. Every write transaction that changed flows, sources or segments sends
  // their ids in a notification (change_notice.h) before it commits; a ChangeFeed thread listens
  // on the primary and calls `listener` with the changes of other instances. An empty listener
  // stops listening.
  void set_change_listener(ChangeListener listener) override;
  // True while the change listener's LISTEN is in effect (tests).
  bool listening_for_changes() const;

  // See MetadataStore. Per endpoint (its host:port), role "primary" or "replica": connections
  // leased now ("in_use") and waiting in its pool ("idle").
  std::vector<PoolConnections> pool_usage() const override;
  // Read like any read() (a replica when one is fresh).
  StoredCounts stored_counts() override;
  // Ready while reads can be served: the primary answers a query, or else a replica does (writes
  // answer 503 meanwhile; docs/decisions.md).
  std::optional<std::string> not_ready() override;

  // The primary then each replica, as last seen.
  std::vector<EndpointStatus> endpoints() const;
  // Runs one health check of every endpoint now (tests; the background thread does this every
  // health_interval).
  void check_health();

 private:
  // Pins beyond this many trigger dropping the expired ones.
  static constexpr size_t kMaxPins = 1024;

  explicit PostgresStore(const PostgresOptions& options);

  // Runs one read transaction on `endpoint`.
  // `fn` on `endpoint`, inside a read-only transaction, or, without `transaction`, with each
  // statement on its own (for a function that runs one).
  void read_on(Endpoint& endpoint, const std::function<void(Reader&)>& fn, bool transaction);
  // read() and read_segment_page(): the endpoint order (replicas, read-your-writes), one retry
  // on the next endpoint.
  void read_routed(const std::function<void(Reader&)>& fn, bool transaction);
  // Whether reads of the calling thread's ReadAffinity key go to the primary now; pin() starts
  // that window.
  bool pinned_to_primary();
  void pin();

  const PostgresOptions options_;
  const std::string origin_;  // this store's id in change notices
  std::unique_ptr<Endpoint> primary_;
  std::vector<std::unique_ptr<Endpoint>> replicas_;
  std::unique_ptr<HealthCheck> health_;
  std::atomic<size_t> rotation_{0};
  std::mutex pins_mutex_;
  std::unordered_map<std::string, int64_t> pinned_until_ms_;  // key -> steady ms; pins_mutex_
  std::unique_ptr<ChangeFeed> feed_;  // set before concurrent use
  std::function<void()> event_listener_;                      // set before concurrent use
};

}  // namespace tams::store::postgres
