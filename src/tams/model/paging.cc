#include "tams/model/paging.h"

#include <array>

namespace tams::model {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}
}  // namespace

std::string encode_cursor(std::string_view kind, std::string_view position) {
  std::string raw;
  raw.reserve(kind.size() + 1 + position.size());
  raw.append(kind).append(":").append(position);
  std::string out;
  out.reserve((raw.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : raw) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::optional<std::string> decode_cursor(std::string_view kind, std::string_view cursor) {
  if (cursor.empty() || cursor.size() > 512) return std::nullopt;
  std::string raw;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : cursor) {
    const int v = decode_char(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero padding, as encode_cursor writes them.
  if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  if (raw.size() <= kind.size() || raw.compare(0, kind.size(), kind) != 0 ||
      raw[kind.size()] != ':') {
    return std::nullopt;
  }
  return raw.substr(kind.size() + 1);
}

}  // namespace tams::model
