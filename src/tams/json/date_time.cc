#include "tams/json/date_time.h"

#include <cstddef>

namespace tams::json {
namespace {

// Reads exactly `n` ASCII digits at text[*pos] into *out and advances *pos.
bool read_digits(std::string_view text, std::size_t* pos, int n, int* out) {
  if (text.size() - *pos < static_cast<std::size_t>(n)) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = text[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool expect(std::string_view text, std::size_t* pos, char a, char b = '\0') {
  if (*pos >= text.size()) return false;
  char c = text[*pos];
  if (c != a && (b == '\0' || c != b)) return false;
  ++*pos;
  return true;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

bool is_rfc3339_date_time(std::string_view text) {
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, &pos, 4, &year) || !expect(text, &pos, '-') ||
      !read_digits(text, &pos, 2, &month) || !expect(text, &pos, '-') ||
      !read_digits(text, &pos, 2, &day) || !expect(text, &pos, 'T', 't') ||
      !read_digits(text, &pos, 2, &hour) || !expect(text, &pos, ':') ||
      !read_digits(text, &pos, 2, &minute) || !expect(text, &pos, ':') ||
      !read_digits(text, &pos, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  if (hour > 23 || minute > 59 || second > 60) return false;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return false;
  }
  int offset_minutes = 0;  // local time minus UTC
  if (expect(text, &pos, 'Z', 'z')) {
    // UTC.
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '+' ? 1 : -1;
    ++pos;
    int off_hour = 0, off_minute = 0;
    if (!read_digits(text, &pos, 2, &off_hour) || !expect(text, &pos, ':') ||
        !read_digits(text, &pos, 2, &off_minute) || off_hour > 23 || off_minute > 59) {
      return false;
    }
    offset_minutes = sign * (off_hour * 60 + off_minute);
  } else {
    return false;
  }
  if (pos != text.size()) return false;
  if (second == 60) {
    // Leap seconds are only ever inserted at the end of a UTC day, so 23:59:60Z is the only
    // possible leap second time of day once the offset is removed.
    int utc_minutes = ((hour * 60 + minute - offset_minutes) % 1440 + 1440) % 1440;
    if (utc_minutes != 23 * 60 + 59) return false;
  }
  return true;
}

}  // namespace tams::json
