// base64url (RFC 4648 §5) without padding: JWT parts and opaque paging cursors.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tams::model {

// Strict base64url without padding (RFC 7515 §2): only [A-Za-z0-9_-], no '=', no blanks, and
// the unused bits of the last character must be zero, so every byte string has one encoding.
// nullopt otherwise. Thread-safe.
std::optional<std::string> base64url_decode(std::string_view in);
// The unpadded base64url encoding of `in`. Thread-safe.
std::string base64url_encode(std::string_view in);

}  // namespace tams::model
