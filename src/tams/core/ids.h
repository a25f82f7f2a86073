// TAMS identifiers: the spec's UUID pattern and minting new ids.
#pragma once

#include <string>
#include <string_view>

namespace tams::core {

// True when `id` matches the 7.0 id pattern
// ^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$
// (lower case, UUID versions 1-5, RFC 4122 variant). Thread-safe.
bool is_valid_id(std::string_view id);

// A new random (version 4) UUID from a cryptographically secure source. Thread-safe.
std::string new_id();

}  // namespace tams::core
