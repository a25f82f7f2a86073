// Change: what a committed write changed, as far as what other processes keep
// in memory about the store cares (core/metadata_cache.h). Stores shared by
// several processes announce their changes (store/postgres: LISTEN/NOTIFY) so
// each process can drop what it holds.
#pragma once

#include <functional>
#include <string>

namespace tams::store {

struct Change {
  enum class Kind : char {
    kSegments = 's',     // the segments of flow `id` (and so its segments_updated)
    kSource = 'o',       // the document of source `id`
    kFlowDeleted = 'x',  // flow `id` was removed (its segments with it)
    // Flow documents were written: with collections and sources, one flow's
    // write can change the computed properties of any other flow or source
    // document. `id` is empty.
    kDocuments = 'd',
    // Anything may have changed (changes were coalesced, or some may have been
    // missed while not listening). `id` is empty.
    kEverything = '*',
  };
  Kind kind = Kind::kEverything;
  std::string id;

  friend bool operator==(const Change &, const Change &) = default;
};

// Called with each change another process made, on the store's listening thread
// (never on a request thread, never while the store holds a lock). Must be
// thread-safe and quick.
using ChangeListener = std::function<void(const Change &)>;

}  // namespace tams::store
