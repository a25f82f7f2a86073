// Media objects: GET /objects/{objectId}.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "tams/model/paging.h"
#include "tams/store/metadata_store.h"

namespace tams::core {

// Thread-safe.
class Objects {
 public:
  explicit Objects(store::MetadataStore& store) : store_(store) {}

  struct Result {
    boost::json::object object;  // object.json, with one page of referenced_by_flows
    std::string next;            // position of the next page of referenced_by_flows
  };
  // The object with the flows referencing it (paged on the flow id). kNotFound when the store
  // has never heard of it.
  Result get(const std::string& object_id, const model::PageRequest& page);

 private:
  store::MetadataStore& store_;
};

}  // namespace tams::core
