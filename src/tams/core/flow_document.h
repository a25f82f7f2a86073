// Reading the stored flow document: the lookups and checks every flow write starts with.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "tams/store/metadata_store.h"

namespace tams::core {

// The string member `key` of `o`, or "" when absent or not a string.
std::string_view string_member(const boost::json::object& o, std::string_view key);

// True when the flow document says read_only: true.
bool is_read_only(const boost::json::object& flow);

// The stored flow; kNotFound when the id is malformed or no such flow exists.
boost::json::object load_flow(store::Reader& reader, const std::string& id);

// The stored flow for a write: as load_flow, and kReadOnly when the flow is read-only.
boost::json::object load_writable_flow(store::Reader& reader, const std::string& id);

// The flow's container; kBadRequest ("flow X has no container, so it cannot have <what>")
// when it is unset.
std::string require_container(const boost::json::object& flow, std::string_view what);

}  // namespace tams::core
