#include "tams/model/paging.h"

#include "tams/model/base64url.h"

namespace tams::model {

std::string encode_cursor(std::string_view kind, std::string_view position) {
  std::string raw;
  raw.reserve(kind.size() + 1 + position.size());
  raw.append(kind).append(":").append(position);
  return base64url_encode(raw);
}

std::optional<std::string> decode_cursor(std::string_view kind, std::string_view cursor) {
  if (cursor.empty() || cursor.size() > 512) return std::nullopt;
  auto decoded = base64url_decode(cursor);
  if (!decoded) return std::nullopt;
  const std::string& raw = *decoded;
  if (raw.size() <= kind.size() || raw.compare(0, kind.size(), kind) != 0 ||
      raw[kind.size()] != ':') {
    return std::nullopt;
  }
  return raw.substr(kind.size() + 1);
}

}  // namespace tams::model
