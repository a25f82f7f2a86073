// Health: whether this instance can serve requests (GET /health/ready).
#pragma once

#include <string>
#include <vector>

#include "tams/media/backends.h"
#include "tams/store/metadata_store.h"

namespace tams::core {

// Thread-safe (stateless over thread-safe parts).
class Health {
 public:
  Health(store::MetadataStore& store, const media::Backends& backends)
      : store_(store), backends_(backends) {}

  struct Problem {
    std::string component;  // "database" or "storage <storage id>": safe to show anyone
    std::string detail;     // the reason, for the log (may name paths and hosts)
  };
  // What is not ready; empty when ready: the metadata store answers a read and the default
  // storage backend can be used.
  std::vector<Problem> not_ready() const;

 private:
  store::MetadataStore& store_;
  const media::Backends& backends_;
};

}  // namespace tams::core
