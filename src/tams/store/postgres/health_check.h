// HealthCheck: a background thread that asks every database endpoint, at a fixed interval,
// whether it answers and, for replicas, how far behind the primary they are.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tams/store/postgres/endpoint.h"
#include "tams/store/postgres/read_routing.h"

namespace tams::store::postgres {

// Checks the primary (`SELECT` of its WAL position) and each replica (in recovery? replayed WAL
// position, time since the last replayed transaction) once per interval on connections of its
// own, and records the outcome on the Endpoints: up or down, and each replica's lag
// (replay_lag_ms). An endpoint that went down is marked up again by the first check it answers,
// so recovery needs no restart. Thread-safe; not copyable.
class HealthCheck {
 public:
  HealthCheck(Endpoint& primary, std::vector<Endpoint*> replicas,
              std::chrono::milliseconds interval);
  HealthCheck(const HealthCheck&) = delete;
  HealthCheck& operator=(const HealthCheck&) = delete;
  ~HealthCheck();  // stops the thread

  // Checks every endpoint once, now, on the calling thread (start() calls it first).
  void check_once();
  // Starts the background thread (once).
  void start();
  void stop();

 private:
  // Primary WAL samples kept for lag estimates (10 minutes at 1 s).
  static constexpr size_t kMaxSamples = 600;

  void check_primary(int64_t now_ms);
  void check_replica(size_t index, int64_t now_ms);
  // Runs `fn` on the checker's own connection to `endpoint`; false (and the endpoint marked
  // down) when the endpoint does not answer.
  template <class Fn>
  bool ask(size_t slot, Endpoint& endpoint, Fn fn);

  Endpoint& primary_;
  std::vector<Endpoint*> replicas_;
  const std::chrono::milliseconds interval_;

  std::mutex check_mutex_;                                // one check_once() at a time
  std::vector<std::unique_ptr<Connection>> connections_;  // [0] primary, [1 + i] replica i
  std::deque<WalSample> primary_samples_;                 // oldest first

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace tams::store::postgres
