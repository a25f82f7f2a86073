// Timestamp: a point on a TAMS flow timeline, in integer nanoseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tams::time {

// A signed count of nanoseconds on any linear timescale (TAI since 1970 by convention).
//
// Wire form (TAMS 7.0 timestamp.json): `^-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8})$`, i.e.
// "{sign}{seconds}:{nanoseconds}" where the part after ':' is an integer count of nanoseconds
// (not a decimal fraction) and the sign applies to the whole value ("-0:5" is -5 ns).
//
// Range: values are held in int64 nanoseconds and must lie in [kMin, kMax] (about +/-292 years).
// The two int64 values outside that range are reserved as the unbounded ends of a TimeRange.
// Parsing a well-formed timestamp outside the range fails with an "out of range" message.
//
// Value type; thread-compatible (no shared state).
class Timestamp {
 public:
  static constexpr int64_t kMin = INT64_MIN + 1;
  static constexpr int64_t kMax = INT64_MAX - 1;

  constexpr Timestamp() = default;
  // Precondition: kMin <= ns <= kMax.
  constexpr explicit Timestamp(int64_t ns) : ns_(ns) {}

  // Parses the exact 7.0 grammar. On failure returns nullopt and, when `error` is not null,
  // stores a one-line human-readable reason naming the problem (e.g. leading zero, too many
  // nanosecond digits, out of range).
  static std::optional<Timestamp> parse(std::string_view text, std::string* error = nullptr);

  constexpr int64_t nanoseconds() const { return ns_; }

  // Canonical wire form: '-' only when negative, no padding: 1500000000 -> "1:500000000",
  // -5 -> "-0:5", 0 -> "0:0".
  std::string to_string() const;

  friend constexpr auto operator<=>(Timestamp, Timestamp) = default;

 private:
  friend class TimeRange;

  // parse() with the bare reason in `reason` (no `timestamp "..."` prefix), so that
  // TimeRange::parse can word its own message around it. On failure `*out_of_range` tells a
  // well-formed value outside [kMin, kMax] from malformed text.
  static std::optional<Timestamp> parse_with_reason(std::string_view text, std::string* reason,
                                                    bool* out_of_range);
  // `text` in double quotes, escaped and shortened so that an error message stays one line.
  static std::string quote_for_error(std::string_view text);

  int64_t ns_ = 0;
};

}  // namespace tams::time
