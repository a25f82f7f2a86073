// TimeRange: an interval on a TAMS flow timeline with inclusive/exclusive ends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tams/time/timestamp.h"

namespace tams::time {

// An interval of the integer nanosecond line.
//
// Internally every range is the half-open interval [start, end): `start` is included in the
// range, `end` is not. With integer nanoseconds an exclusive start "(a" is start a+1 and an
// inclusive end "b]" is end b+1. kUnboundedStart / kUnboundedEnd stand for -infinity /
// +infinity. A range is empty iff start >= end; all empty ranges compare equal.
// No timestamp lies after Timestamp::kMax, so "b]" with b == kMax ends at kUnboundedEnd
// ("[a_kMax]" == "[a_") and "(kMax_" is empty.
//
// The range also remembers how each bound was written (the markers), so that to_string()
// reproduces the client's meaning without rewriting it: "[0:0_10:0]" prints as "[0:0_10:0]",
// not as "[0:0_10:1)". Results of operations keep the marker of the bound they took.
//
// Wire form (TAMS 7.0 timerange.json), all handled by parse():
//   "[a_b)" etc.  '[' / ']' inclusive, '(' / ')' exclusive, a missing marker means inclusive;
//   "_"           eternity; an omitted bound is unbounded and any marker beside it is ignored;
//   "()"          empty ("never"); "" and marker-only forms ("[]", "[", ...) are empty too;
//   "[a]", "a", "[a_a]"  instantaneous range containing exactly a;
//   "(a)", "[a)", "(a]"  empty; any range with end before start is empty (not an error).
//
// Value type; thread-compatible.
class TimeRange {
 public:
  static constexpr int64_t kUnboundedStart = INT64_MIN;
  static constexpr int64_t kUnboundedEnd = INT64_MAX;

  // The empty range "()".
  TimeRange() = default;

  static TimeRange eternity();
  static TimeRange empty() { return TimeRange(); }
  // [ts] : contains exactly one nanosecond.
  static TimeRange instant(Timestamp ts);
  // [start, end) in half-open nanoseconds, written with "[" and ")" markers. Either side may be
  // the unbounded sentinel. Produces the empty range when start >= end.
  static TimeRange half_open(int64_t start, int64_t end);

  // Parses the exact 7.0 grammar. On failure returns nullopt and, when `error` is not null,
  // stores a one-line reason (malformed text, bad timestamp, out of range).
  static std::optional<TimeRange> parse(std::string_view text, std::string* error = nullptr);

  bool is_empty() const { return start_ >= end_; }
  bool is_eternity() const { return start_ == kUnboundedStart && end_ == kUnboundedEnd; }
  bool has_start() const { return start_ != kUnboundedStart; }
  bool has_end() const { return end_ != kUnboundedEnd; }
  // Half-open bounds; meaningful only when !is_empty().
  int64_t start() const { return start_; }
  int64_t end() const { return end_; }

  // Canonical wire form: "()" when empty, "_" for eternity, "[t]" for an instant (any range
  // holding exactly one nanosecond after a bounded start), otherwise
  // "{[|(}start_end{]|)}" with the marker omitted on an unbounded side ("[0:0_10:0)",
  // "(5:0_", "_10:0]"). Markers are those the range was written with.
  std::string to_string() const;

  // True when the two ranges share at least one nanosecond. Empty ranges overlap nothing.
  bool overlaps(const TimeRange& other) const;
  // True when every nanosecond of `other` is in this range. The empty range is contained in
  // everything (including the empty range).
  bool contains(const TimeRange& other) const;
  // True when both are non-empty, do not overlap, and one ends exactly where the other starts
  // ([0:0_10:0) and [10:0_20:0)).
  bool is_adjacent(const TimeRange& other) const;
  // The nanoseconds in both ranges (empty when they do not overlap).
  TimeRange intersection(const TimeRange& other) const;
  // The smallest range covering both (gaps between them included). Extent with an empty range
  // is the other range.
  TimeRange extent(const TimeRange& other) const;

  // Equality of the sets of nanoseconds (markers are ignored): "[0:0_10:0]" == "[0:0_10:1)".
  friend bool operator==(const TimeRange& a, const TimeRange& b) {
    return (a.is_empty() && b.is_empty()) || (a.start_ == b.start_ && a.end_ == b.end_);
  }

 private:
  int64_t start_ = 0;
  int64_t end_ = 0;
  bool start_exclusive_ = false;  // written "(a": start_ is a+1
  bool end_inclusive_ = false;    // written "b]": end_ is b+1
};

}  // namespace tams::time
