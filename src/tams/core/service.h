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
  // `webhooks`: /service/webhooks is offered, so event_stream_mechanisms lists "webhooks".
  Service(store::MetadataStore& store, std::string service_version, bool webhooks = false)
      : store_(store), service_version_(std::move(service_version)), webhooks_(webhooks) {}

  // service.json: type, api_version "7.0", service_version, name/description when set,
  // event_stream_mechanisms when webhooks are offered.
  boost::json::object info();
  // Applies a service-post.json body (name and/or description); kBadRequest when invalid.
  void update(const boost::json::value& body);

 private:
  store::MetadataStore& store_;
  std::string service_version_;
  bool webhooks_ = false;
};

}  // namespace tams::core
