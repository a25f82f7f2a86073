// Keyset paging shared by every listing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tams::model {

// What a client asked for: a page of at most `limit` items strictly after the cursor position
// `after` (empty = from the beginning). `limit` is already clamped to the server's maximum.
struct PageRequest {
  std::string after;
  int64_t limit = 100;
};

// One page of a listing. `next` is the cursor of the following page, empty on the last page.
template <class T>
struct Page {
  std::vector<T> items;
  std::string next;
  int64_t limit = 0;  // the limit actually applied
};

// Cursors are opaque to clients: the keyset position encoded as unpadded base64url with a kind
// prefix, so a cursor of one listing is refused by another.
// encode_cursor("f", "abc") -> base64url("f:abc").
std::string encode_cursor(std::string_view kind, std::string_view position);
// The position inside a cursor made by encode_cursor with the same `kind`, or nullopt when the
// text is not such a cursor.
std::optional<std::string> decode_cursor(std::string_view kind, std::string_view cursor);

}  // namespace tams::model
