// The configured storage backends, by id, with the default one.
#pragma once

#include <string_view>
#include <vector>

#include "tams/media/media_store.h"

namespace tams::media {

// Holds non-owning pointers to the stores (which outlive it). Filled at start-up, then read-only
// and safe for concurrent use.
class Backends {
 public:
  // Adds a store; the first one whose backend() says default_storage becomes the default.
  void add(MediaStore& store) {
    stores_.push_back(&store);
    if (!default_ && store.backend().default_storage) default_ = &store;
  }
  // The store with this storage id, or nullptr.
  MediaStore* find(std::string_view storage_id) const {
    for (MediaStore* s : stores_) {
      if (s->backend().id == storage_id) return s;
    }
    return nullptr;
  }
  // The default store, or nullptr when none is marked default.
  MediaStore* default_store() const { return default_; }
  const std::vector<MediaStore*>& all() const { return stores_; }

 private:
  std::vector<MediaStore*> stores_;
  MediaStore* default_ = nullptr;
};

}  // namespace tams::media
