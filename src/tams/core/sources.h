// Sources: read-mostly resources created and removed implicitly through their flows.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "tams/core/metadata_cache.h"
#include "tams/core/principal.h"
#include "tams/model/paging.h"
#include "tams/store/metadata_store.h"

namespace tams::core {

// TAMS semantics of /sources. Thread-safe (stateless over a thread-safe store).
// Every method throws core::Error (kNotFound for a missing or malformed id, kBadRequest for
// invalid input).
class Sources {
 public:
  // `cache` (optional, outliving this) keeps source documents; every write here invalidates it.
  explicit Sources(store::MetadataStore& store, MetadataCache* cache = nullptr)
      : store_(store), cache_(cache) {}

  // A page of sources (with the computed source_collection / collected_by).
  model::Page<boost::json::object> list(const store::SourceFilter& filter,
                                        const model::PageRequest& page);
  // The source with its computed collections.
  boost::json::object get(const std::string& id);
  // The same as JSON text, shared (from the cache when there is
  // one).
  std::shared_ptr<const std::string> document_json(const std::string& id);

  // The source's tags object ({} when it has none).
  boost::json::object tags(const std::string& id);
  // One tag value; kNotFound when the source or the tag does not exist.
  std::string tag(const std::string& id, const std::string& name);
  void put_tag(const std::string& id, const std::string& name, const boost::json::value& value,
               const Principal& who);
  void delete_tag(const std::string& id, const std::string& name, const Principal& who);

  // "label" or "description": GET is kNotFound when unset; PUT takes a JSON string.
  std::string text_property(const std::string& id, const std::string& property);
  void put_text_property(const std::string& id, const std::string& property,
                         const boost::json::value& value, const Principal& who);
  void delete_text_property(const std::string& id, const std::string& property,
                            const Principal& who);

  // Adds the computed collection properties to a stored source document.
  static void decorate(store::Reader& reader, boost::json::object& source);

 private:
  // Runs `change` on the stored source inside a write transaction and stamps updated/updated_by.
  template <class F>
  void update(const std::string& id, const Principal& who, F&& change);

  store::MetadataStore& store_;
  MetadataCache* cache_;
};

}  // namespace tams::core
