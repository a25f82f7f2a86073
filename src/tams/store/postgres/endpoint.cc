#include "tams/store/postgres/endpoint.h"

#include <spdlog/spdlog.h>

namespace tams::store::postgres {

Endpoint::Endpoint(std::string url)
    : url_(std::move(url)), label_(redact_url(url_)), address_(endpoint_address(url_)) {}

std::unique_ptr<Connection> Endpoint::acquire() {
  in_use_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      idle_count_.store(static_cast<int64_t>(idle_.size()), std::memory_order_relaxed);
      return connection;
    }
  }
  try {
    return std::make_unique<Connection>(url_, label_);
  } catch (const EndpointFailure&) {
    in_use_.fetch_sub(1, std::memory_order_relaxed);
    mark_down();
    throw;
  } catch (...) {
    in_use_.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
}

void Endpoint::release(std::unique_ptr<Connection> connection) {
  in_use_.fetch_sub(1, std::memory_order_relaxed);
  if (!connection || connection->broken()) return;
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(connection));
  idle_count_.store(static_cast<int64_t>(idle_.size()), std::memory_order_relaxed);
}

void Endpoint::drop_idle() {
  std::vector<std::unique_ptr<Connection>> dropped;
  std::lock_guard lock(mutex_);
  dropped.swap(idle_);
  idle_count_.store(0, std::memory_order_relaxed);
}

void Endpoint::mark_down() {
  if (up_.exchange(false)) {
    spdlog::warn("PostgreSQL {} is unavailable; routing around it until it answers again", label_);
  }
  // Idle connections to a server that failed are most likely dead too.
  drop_idle();
}

void Endpoint::mark_up() {
  if (!up_.exchange(true)) spdlog::info("PostgreSQL {} is available again", label_);
}

Lease::~Lease() {
  // A connection that cannot end its transaction is not reused.
  if (!connection_->rollback() && !connection_->broken()) connection_.reset();
  endpoint_.release(std::move(connection_));
}

}  // namespace tams::store::postgres
