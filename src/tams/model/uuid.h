// The textual UUID forms tams checks (RFC 4122: 8-4-4-4-12 hex digits).
#pragma once

#include <string_view>

namespace tams::model {

// True for a UUID in lower case, the form tams writes and stores (storage backend ids, ...).
bool is_lowercase_uuid(std::string_view s);

}  // namespace tams::model
