#include "tams/store/postgres/health_check.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace tams::store::postgres {

namespace {

// The primary's WAL write position in bytes.
constexpr std::string_view kPrimaryWalPosition =
    "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint";
// A replica: standby or not, replayed WAL position in bytes (-1: none), and ms since the last
// replayed transaction committed on the primary (-1: none replayed since the replica started).
constexpr std::string_view kReplicaState =
    "SELECT pg_is_in_recovery(), "
    "COALESCE((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, -1), "
    "COALESCE((EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())) * 1000)::bigint, -1)";

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

HealthCheck::HealthCheck(Endpoint& primary, std::vector<Endpoint*> replicas,
                         std::chrono::milliseconds interval)
    : primary_(primary), replicas_(std::move(replicas)), interval_(interval) {
  connections_.resize(1 + replicas_.size());
}

HealthCheck::~HealthCheck() { stop(); }

template <class Fn>
bool HealthCheck::ask(size_t slot, Endpoint& endpoint, Fn fn) {
  std::unique_ptr<Connection>& connection = connections_[slot];
  try {
    if (!connection || connection->broken()) {
      connection.reset();
      connection = std::make_unique<Connection>(endpoint.url(), endpoint.label());
    }
    fn(*connection);
    endpoint.mark_up();
    return true;
  } catch (const std::exception& e) {
    if (endpoint.up())
      spdlog::debug("health check of PostgreSQL {}: {}", endpoint.label(), e.what());
    connection.reset();
    endpoint.mark_down();
    return false;
  }
}

void HealthCheck::check_primary(int64_t now_ms) {
  ask(0, primary_, [&](Connection& db) {
    const Result position = db.query("kPrimaryWalPosition", kPrimaryWalPosition);
    primary_samples_.push_back(WalSample{position.int64(0, 0), now_ms});
    if (primary_samples_.size() > kMaxSamples) primary_samples_.pop_front();
  });
  if (!primary_.up()) primary_samples_.clear();
}

void HealthCheck::check_replica(size_t index, int64_t now_ms) {
  Endpoint& replica = *replicas_[index];
  ask(1 + index, replica, [&](Connection& db) {
    const Result state = db.query("kReplicaState", kReplicaState);
    const bool in_recovery = state.int64(0, 0) != 0;
    const std::vector<WalSample> samples(primary_samples_.begin(), primary_samples_.end());
    const int64_t lag = replay_lag_ms(state.int64(0, 1), samples, now_ms, state.int64(0, 2));
    if (!in_recovery && !replica.promoted()) {
      spdlog::warn("PostgreSQL replica {} is not in recovery (promoted?); not reading from it",
                   replica.label());
    }
    replica.set_replica_state(in_recovery, lag);
  });
}

void HealthCheck::check_once() {
  std::lock_guard lock(check_mutex_);
  check_primary(steady_ms());
  for (size_t i = 0; i < replicas_.size(); ++i) check_replica(i, steady_ms());
}

void HealthCheck::start() {
  if (thread_.joinable()) return;
  check_once();
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
      lock.unlock();
      check_once();
      lock.lock();
    }
  });
}

void HealthCheck::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tams::store::postgres
