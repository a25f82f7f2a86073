// ReadAffinity: on whose behalf the store calls of this thread are made, so that a store with
// read replicas can send a client's reads to the primary right after that client's own writes
// (read-your-writes) without sending everybody's reads there.
#pragma once

#include <string>

namespace tams::store {

// Sets the calling thread's affinity key (e.g. the authenticated principal's name) for the
// lifetime of the object and restores the previous one after. Threads without a key ("": the
// background jobs, which act on what they read) always read from the primary. Stores without
// replicas ignore it. Not copyable.
class ReadAffinity {
 public:
  explicit ReadAffinity(std::string key);
  ReadAffinity(const ReadAffinity&) = delete;
  ReadAffinity& operator=(const ReadAffinity&) = delete;
  ~ReadAffinity();

  // The calling thread's key; "" when none is set.
  static const std::string& current();

 private:
  std::string previous_;
};

}  // namespace tams::store
