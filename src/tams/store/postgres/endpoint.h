// Endpoint: one PostgreSQL server (the primary or a read replica) with its pool of idle
// connections and its last known health.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tams/store/postgres/connection.h"

namespace tams::store::postgres {

// One server and its connection pool. Thread-safe: any number of threads may lease connections
// and read or update the health at once. Not copyable.
class Endpoint {
 public:
  // `url` is a postgres:// URI or conninfo; it is never logged (label() is the redacted form).
  explicit Endpoint(std::string url);
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // A connection for one caller: an idle one from the pool, or a new one. Throws
  // EndpointFailure (and marks the endpoint down) when a new one cannot be made.
  std::unique_ptr<Connection> acquire();
  // Gives a connection back. Broken connections, or ones beyond kMaxIdle, are closed instead;
  // null when the caller closed it (it is no longer counted in use either way).
  void release(std::unique_ptr<Connection> connection);
  // Closes every idle connection (after the server went away, they are all dead).
  void drop_idle();

  const std::string& url() const { return url_; }
  const std::string& label() const { return label_; }
  // host:port (endpoint_address), the endpoint's label in metrics.
  const std::string& address() const { return address_; }
  // Connections acquired and not yet released, and connections waiting idle in the pool.
  int64_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  int64_t idle() const { return idle_count_.load(std::memory_order_relaxed); }

  // ---- Health (written by the health check and by failing callers) ----

  // The server answered its last health check (and nothing failed since).
  bool up() const { return up_.load(); }
  // Until the health check sees the server answer again; also closes the idle connections.
  void mark_down();
  void mark_up();
  // For replicas, as the health check last saw them: in recovery (a standby), seen out of
  // recovery (promoted), both false before the first successful check; and the estimated replay
  // lag in milliseconds (-1: unknown).
  bool in_recovery() const { return recovery_.load() == 1; }
  bool promoted() const { return recovery_.load() == 0; }
  int64_t lag_ms() const { return lag_ms_.load(); }
  void set_replica_state(bool in_recovery, int64_t lag_ms) {
    recovery_.store(in_recovery ? 1 : 0);
    lag_ms_.store(lag_ms);
  }

 private:
  static constexpr size_t kMaxIdle = 32;

  const std::string url_;
  const std::string label_;
  const std::string address_;
  std::atomic<int64_t> in_use_{0};
  std::atomic<int64_t> idle_count_{0};  // idle_.size(), readable without the lock
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  std::atomic<bool> up_{true};
  std::atomic<int> recovery_{-1};  // -1 not checked yet, 0 not in recovery, 1 in recovery
  std::atomic<int64_t> lag_ms_{-1};
};

// Leases a connection of `endpoint` for one scope and gives it back at the end (rolling back
// any transaction left open; a connection that cannot roll back is dropped).
class Lease {
 public:
  explicit Lease(Endpoint& endpoint) : endpoint_(endpoint), connection_(endpoint.acquire()) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  Connection& operator*() { return *connection_; }
  Connection* operator->() { return connection_.get(); }

 private:
  Endpoint& endpoint_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace tams::store::postgres
