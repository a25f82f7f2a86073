#include "tams/time/timerange.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tams/time/timestamp.h"

namespace tams::time {

TimeRange TimeRange::eternity() { return half_open(kUnboundedStart, kUnboundedEnd); }

TimeRange TimeRange::instant(Timestamp ts) {
  // Written "[ts]", i.e. "[ts_ts]": both ends inclusive. ts <= kMax, so end_ cannot overflow.
  TimeRange range;
  range.start_ = ts.nanoseconds();
  range.end_ = ts.nanoseconds() + 1;
  range.end_inclusive_ = range.end_ != kUnboundedEnd;
  return range;
}

TimeRange TimeRange::half_open(int64_t start, int64_t end) {
  TimeRange range;
  if (start < end) {
    range.start_ = start;
    range.end_ = end;
  }
  return range;
}

std::optional<TimeRange> TimeRange::parse(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& reason) -> std::optional<TimeRange> {
    if (error != nullptr) {
      *error = "timerange " + Timestamp::quote_for_error(text) + ": " + reason;
    }
    return std::nullopt;
  };
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      return fail("whitespace is not allowed");
    }
  }

  // Grammar: ^(\[|\()?(TS)?(_(TS)?)?(\]|\))?$. A timestamp never contains a bracket or '_', so
  // peeling one optional marker off each end leaves "TS", "TS_TS", "TS_", "_TS", "_" or "".
  size_t begin = 0;
  size_t end = text.size();
  bool start_marker_exclusive = false;
  bool end_marker_exclusive = false;
  if (begin < end && (text[begin] == '[' || text[begin] == '(')) {
    start_marker_exclusive = text[begin] == '(';
    ++begin;
  }
  if (begin < end && (text[end - 1] == ']' || text[end - 1] == ')')) {
    end_marker_exclusive = text[end - 1] == ')';
    --end;
  }
  const std::string_view body = text.substr(begin, end - begin);
  if (const size_t bad = body.find_first_of("[]()"); bad != std::string_view::npos) {
    return fail(std::string("misplaced '") + body[bad] + "' at offset " +
                std::to_string(begin + bad));
  }
  const size_t underscore = body.find('_');
  if (underscore != std::string_view::npos &&
      body.find('_', underscore + 1) != std::string_view::npos) {
    return fail("more than one '_'");
  }

  // A single timestamp "a" means "a_a": an instant when both ends are inclusive, else empty.
  const bool single = underscore == std::string_view::npos;
  if (single && body.empty()) return TimeRange();  // "", "()", "[]", "[", ... : empty.
  const std::string_view start_text = single ? body : body.substr(0, underscore);
  const std::string_view end_text = single ? std::string_view() : body.substr(underscore + 1);

  // Reads both bounds; an omitted bound stays unbounded and the marker beside it is ignored.
  struct Bound {
    std::string_view text;
    const char* name;
    std::optional<Timestamp> value;
    std::string reason;
    bool out_of_range = false;
  };
  Bound bounds[] = {{start_text, single ? "" : "start ", {}, {}, false},
                    {end_text, "end ", {}, {}, false}};
  for (Bound& bound : bounds) {
    if (bound.text.empty()) continue;
    bound.value = Timestamp::parse_with_reason(bound.text, &bound.reason, &bound.out_of_range);
  }
  // Grammar errors first, so that "out of range" always means the text matched the schema.
  for (const bool report_range_errors : {false, true}) {
    for (const Bound& bound : bounds) {
      if (bound.text.empty() || bound.value || bound.out_of_range != report_range_errors) continue;
      const std::string what =
          std::string(bound.name) + "timestamp " + Timestamp::quote_for_error(bound.text);
      return fail(bound.out_of_range ? what + " " + bound.reason
                                     : "malformed " + what + " (" + bound.reason + ")");
    }
  }
  const std::optional<Timestamp>& first = bounds[0].value;
  const std::optional<Timestamp>& last = single ? bounds[0].value : bounds[1].value;

  // Half-open conversion: "(a" starts at a+1, "b]" ends at b+1. Both stay within int64 because
  // a, b <= kMax = INT64_MAX - 1; "b]" with b == kMax lands on kUnboundedEnd, which is the same
  // set of nanoseconds since no timestamp lies after kMax.
  TimeRange range;
  if (first) {
    range.start_ = first->nanoseconds() + (start_marker_exclusive ? 1 : 0);
    range.start_exclusive_ = start_marker_exclusive;
  } else {
    range.start_ = kUnboundedStart;
  }
  if (last) {
    range.end_ = last->nanoseconds() + (end_marker_exclusive ? 0 : 1);
    range.end_inclusive_ = !end_marker_exclusive && range.end_ != kUnboundedEnd;
  } else {
    range.end_ = kUnboundedEnd;
  }
  if (range.is_empty()) return TimeRange();  // Reversed, "(a)", "[a)", "(a]", ...: not an error.
  return range;
}

std::string TimeRange::to_string() const {
  if (is_empty()) return "()";
  // Exactly one nanosecond with a real start. With an unbounded end that can only be [kMax, +inf),
  // which also holds just kMax.
  if (has_start() && start_ + 1 == end_) return "[" + Timestamp(start_).to_string() + "]";
  if (is_eternity()) return "_";
  std::string out;
  if (has_start()) {
    out += start_exclusive_ ? "(" + Timestamp(start_ - 1).to_string()
                            : "[" + Timestamp(start_).to_string();
  }
  out += '_';
  if (has_end()) {
    out +=
        end_inclusive_ ? Timestamp(end_ - 1).to_string() + "]" : Timestamp(end_).to_string() + ")";
  }
  return out;
}

bool TimeRange::overlaps(const TimeRange& other) const {
  if (is_empty() || other.is_empty()) return false;
  return start_ < other.end_ && other.start_ < end_;
}

bool TimeRange::contains(const TimeRange& other) const {
  if (other.is_empty()) return true;
  if (is_empty()) return false;
  return start_ <= other.start_ && other.end_ <= end_;
}

bool TimeRange::is_adjacent(const TimeRange& other) const {
  if (is_empty() || other.is_empty()) return false;
  // Non-empty ranges that meet at one boundary cannot overlap.
  return end_ == other.start_ || other.end_ == start_;
}

TimeRange TimeRange::intersection(const TimeRange& other) const {
  if (!overlaps(other)) return TimeRange();
  // Each bound comes with the marker it was written with; on a tie keep this range's.
  TimeRange range = *this;
  if (other.start_ > start_) {
    range.start_ = other.start_;
    range.start_exclusive_ = other.start_exclusive_;
  }
  if (other.end_ < end_) {
    range.end_ = other.end_;
    range.end_inclusive_ = other.end_inclusive_;
  }
  return range;
}

TimeRange TimeRange::extent(const TimeRange& other) const {
  if (other.is_empty()) return *this;
  if (is_empty()) return other;
  TimeRange range = *this;
  if (other.start_ < start_) {
    range.start_ = other.start_;
    range.start_exclusive_ = other.start_exclusive_;
  }
  if (other.end_ > end_) {
    range.end_ = other.end_;
    range.end_inclusive_ = other.end_inclusive_;
  }
  return range;
}

}  // namespace tams::time
