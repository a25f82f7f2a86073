// Percent-decoding of path segments and query components.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tams::http {

// Decodes %XX escapes (either hex case). With `plus_as_space` (query strings, as HTML forms and
// most HTTP clients encode them) '+' becomes ' '; in paths '+' stays '+'. TAMS values never
// contain a meaningful '+' (timestamps have no plus sign). Returns nullopt on a malformed escape ('%' not followed by two hex digits)
// or when the decoded bytes are not well-formed UTF-8.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space = false);

// Encodes everything but unreserved characters (RFC 3986) as %XX.
std::string percent_encode(std::string_view text);

}  // namespace tams::http
