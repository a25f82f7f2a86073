// Leases on background work shared by several tams instances over one metadata store.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "tams/store/metadata_store.h"

namespace tams::core {

// Who claims background work and for how long. One owner per running process: every worker of
// an instance (deletion requests, garbage collection, webhook delivery) claims under it.
struct JobLease {
  // Unique per process start: "<host>/<pid>/<random UUID>" (host and pid are for people reading
  // the store; the UUID makes it unique). Empty: the worker given it makes up its own.
  std::string owner;
  // How long a claim holds an item without renewal. An instance that stops working (crash,
  // hang) holds its items this long; workers renew well before the end.
  std::chrono::milliseconds duration{30000};

  // A claim of at most `limit` items starting now on the wall clock. Thread-safe.
  store::LeaseClaim claim(int64_t limit) const;
  // The end of a lease taken or renewed now (unix ms).
  int64_t until_from_now() const;
};

// A new owner id for this process ("<host>/<pid>/<random UUID>"). Thread-safe.
std::string new_lease_owner();

// The wall clock in unix milliseconds (the time base of leases and webhook retries).
int64_t unix_now_ms();

}  // namespace tams::core
