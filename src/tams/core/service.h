// The service description (/service) and its editable name and description.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "tams/store/metadata_store.h"

namespace tams::core {

// Thread-safe (stateless over a thread-safe store).
class Service {
 public:
  Service(store::MetadataStore& store, std::string service_version)
      : store_(store), service_version_(std::move(service_version)) {}

  // service.json: type, api_version "7.0", service_version, name/description when set.
  boost::json::object info();
  // Applies a service-post.json body (name and/or description); kBadRequest when invalid.
  void update(const boost::json::value& body);

 private:
  store::MetadataStore& store_;
  std::string service_version_;
};

}  // namespace tams::core
