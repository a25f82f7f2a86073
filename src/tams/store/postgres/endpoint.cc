#include "tams/store/postgres/endpoint.h"

#include <spdlog/spdlog.h>

namespace tams::store::postgres {

Endpoint::Endpoint(std::string url) : url_(std::move(url)), label_(redact_url(url_)) {}

std::unique_ptr<Connection> Endpoint::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
  }
  try {
    return std::make_unique<Connection>(url_, label_);
  } catch (const EndpointFailure&) {
    mark_down();
    throw;
  }
}

void Endpoint::release(std::unique_ptr<Connection> connection) {
  if (connection->broken()) return;
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(connection));
}

void Endpoint::drop_idle() {
  std::vector<std::unique_ptr<Connection>> dropped;
  std::lock_guard lock(mutex_);
  dropped.swap(idle_);
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
  if (!connection_->rollback() && !connection_->broken()) return;
  endpoint_.release(std::move(connection_));
}

}  // namespace tams::store::postgres
