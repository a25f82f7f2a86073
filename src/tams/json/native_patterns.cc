#include "tams/json/native_patterns.h"

#include <cstddef>

namespace tams::json {

namespace {

// The spec's patterns, exactly as its schemas write them (after JSON unescaping).
constexpr std::string_view kTimestamp = R"(^-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8})$)";
constexpr std::string_view kTimerange =
    R"(^(\[|\()?(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?(_(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?)?(\]|\))?$)";
constexpr std::string_view kUuid =
    "^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

// Consumes -?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}) at s[i]; advances i only on a match. Every
// alternative is decided by its first character, so consuming greedily is what the regex does.
bool timestamp_at(std::string_view s, size_t& i) {
  size_t j = i;
  const size_t n = s.size();
  if (j < n && s[j] == '-') ++j;
  if (j >= n || !is_digit(s[j])) return false;
  if (s[j] == '0') {
    ++j;
  } else {
    while (j < n && is_digit(s[j])) ++j;
  }
  if (j >= n || s[j] != ':') return false;
  ++j;
  if (j >= n || !is_digit(s[j])) return false;
  if (s[j] == '0') {
    ++j;
  } else {
    const size_t first = j;
    while (j < n && is_digit(s[j]) && j - first < 9) ++j;
  }
  i = j;
  return true;
}

bool match_timestamp(std::string_view s) {
  size_t i = 0;
  return timestamp_at(s, i) && i == s.size();
}

// Every part is optional. Skipping a timestamp that is there never helps: the character left
// ('-' or a digit) matches nothing that may follow, so trying each part once, in order, decides.
bool match_timerange(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  if (i < n && (s[i] == '[' || s[i] == '(')) ++i;
  timestamp_at(s, i);
  if (i < n && s[i] == '_') {
    ++i;
    timestamp_at(s, i);
  }
  if (i < n && (s[i] == ']' || s[i] == ')')) ++i;
  return i == n;
}

bool match_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (i == 14) {
      if (c < '1' || c > '5') return false;
    } else if (i == 19) {
      if (c != '8' && c != '9' && c != 'a' && c != 'b') return false;
    } else if (!is_hex(c)) {
      return false;
    }
  }
  return true;
}

}  // namespace

NativeMatcher native_matcher(std::string_view pattern_source) {
  if (pattern_source == kTimestamp) return &match_timestamp;
  if (pattern_source == kTimerange) return &match_timerange;
  if (pattern_source == kUuid) return &match_uuid;
  return nullptr;
}

}  // namespace tams::json
