// Property tests: Timestamp and TimeRange against a deliberately naive reference.
//
// The reference matches text with std::regex using the exact TAMS 7.0 schema patterns, computes
// values in __int128 (so nothing it does can overflow), and models a range as the set of integer
// nanoseconds lo..hi (both inclusive). Every case comes from a std::mt19937_64 with a fixed seed,
// so a failure reproduces; the failing input is printed.

// GCC 12 with -fsanitize=address reports -Wmaybe-uninitialized inside libstdc++'s std::regex
// (std::function copies in regex_automaton.h), a false positive in library code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "tams/time/timerange.h"
#include "tams/time/timestamp.h"

namespace tams::time {
namespace {

using Int = __int128;

constexpr uint64_t kSeed = 0x7A45'2024'0700'0001;
constexpr int kTimestampCases = 25000;
constexpr int kRangeParseCases = 25000;
constexpr int kRangePairCases = 25000;
constexpr int kHalfOpenCases = 5000;
constexpr int kMaxReportedFailures = 20;

constexpr Int kNanosPerSecond = 1'000'000'000;
constexpr Int kMin = Timestamp::kMin;
constexpr Int kMax = Timestamp::kMax;
// Stands for -infinity: below every value the reference can compute from a test string.
constexpr Int kNegInfinity = -(Int{1} << 125);

// The schema patterns, verbatim (timestamp.json, timerange.json).
const std::regex& TimestampPattern() {
  static const std::regex pattern(R"(^-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8})$)");
  return pattern;
}
const std::regex& TimeRangePattern() {
  static const std::regex pattern(
      R"(^(\[|\()?(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?(_(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?)?(\]|\))?$)");
  return pattern;
}

std::string IntToString(Int v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  std::string digits;
  for (; v != 0; v /= 10) {
    digits += static_cast<char>('0' + static_cast<int>(negative ? -(v % 10) : v % 10));
  }
  if (negative) digits += '-';
  std::reverse(digits.begin(), digits.end());
  return digits;
}

// Wire form of a value: sign on the whole value, seconds, ':', nanosecond count.
std::string FormatTimestamp(Int ns) {
  const Int magnitude = ns < 0 ? -ns : ns;
  return (ns < 0 ? "-" : "") + IntToString(magnitude / kNanosPerSecond) + ":" +
         IntToString(magnitude % kNanosPerSecond);
}

// Saturates far above anything in range so long digit strings cannot overflow.
Int DecimalValue(const std::string& digits) {
  Int value = 0;
  for (char c : digits) value = std::min<Int>(value * 10 + (c - '0'), Int{1} << 90);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Reference model.

struct RefTimestamp {
  bool well_formed = false;  // Matches the schema pattern.
  bool in_range = false;     // And lies in [kMin, kMax].
  Int value = 0;
};

RefTimestamp RefParseTimestamp(const std::string& text) {
  RefTimestamp ts;
  std::smatch m;
  if (!std::regex_match(text, m, TimestampPattern())) return ts;
  ts.well_formed = true;
  const Int magnitude = DecimalValue(m[1].str()) * kNanosPerSecond + DecimalValue(m[2].str());
  ts.value = text[0] == '-' ? -magnitude : magnitude;
  ts.in_range = kMin <= ts.value && ts.value <= kMax;
  return ts;
}

// The set of integer nanoseconds lo..hi, inclusive. An unbounded start is kNegInfinity. Time ends
// at kMax (INT64_MAX is +infinity and no timestamp lies beyond kMax), so an unbounded end is
// kMax and "b]" with b == kMax is the same set.
struct RefRange {
  Int lo = 1;
  Int hi = 0;
  bool start_exclusive = false;  // Start written "(a": lo is a+1.
  bool end_inclusive = false;    // End written "b]": hi is b.

  bool empty() const { return lo > hi; }
  bool has_start() const { return lo != kNegInfinity; }
  bool has_end() const { return hi != kMax; }
};

struct RefParsedRange {
  bool well_formed = false;
  bool in_range = false;
  RefRange range;
};

RefParsedRange RefParseRange(const std::string& text) {
  RefParsedRange parsed;
  std::smatch m;
  if (!std::regex_match(text, m, TimeRangePattern())) return parsed;
  parsed.well_formed = true;
  const bool has_underscore = m[5].matched;
  const bool open_marker_exclusive = m[1].matched && m[1].str() == "(";
  const bool close_marker_exclusive = m[9].matched && m[9].str() == ")";
  std::optional<RefTimestamp> first;
  std::optional<RefTimestamp> last;
  if (m[2].matched) first = RefParseTimestamp(m[2].str());
  if (m[6].matched) last = RefParseTimestamp(m[6].str());
  parsed.in_range = (!first || first->in_range) && (!last || last->in_range);
  if (!parsed.in_range) return parsed;
  if (!has_underscore) {
    if (!first) return parsed;  // "", "()", "[" ...: empty (lo > hi).
    last = first;               // "a" is "a_a".
  }
  RefRange& r = parsed.range;
  r.lo = first ? first->value + (open_marker_exclusive ? 1 : 0) : kNegInfinity;
  r.hi = last ? last->value - (close_marker_exclusive ? 1 : 0) : kMax;
  r.start_exclusive = first && open_marker_exclusive;
  r.end_inclusive = last && !close_marker_exclusive;
  return parsed;
}

std::string RefToString(const RefRange& r) {
  if (r.empty()) return "()";
  if (r.has_start() && r.lo == r.hi) return "[" + FormatTimestamp(r.lo) + "]";
  if (!r.has_start() && !r.has_end()) return "_";
  std::string out;
  if (r.has_start()) {
    out += r.start_exclusive ? "(" + FormatTimestamp(r.lo - 1) : "[" + FormatTimestamp(r.lo);
  }
  out += "_";
  if (r.has_end()) {
    out += r.end_inclusive ? FormatTimestamp(r.hi) + "]" : FormatTimestamp(r.hi + 1) + ")";
  }
  return out;
}

bool RefEqual(const RefRange& a, const RefRange& b) {
  return (a.empty() && b.empty()) || (a.lo == b.lo && a.hi == b.hi);
}

bool RefOverlaps(const RefRange& a, const RefRange& b) {
  return !a.empty() && !b.empty() && std::max(a.lo, b.lo) <= std::min(a.hi, b.hi);
}

bool RefContains(const RefRange& a, const RefRange& b) {
  return b.empty() || (!a.empty() && a.lo <= b.lo && b.hi <= a.hi);
}

bool RefAdjacent(const RefRange& a, const RefRange& b) {
  return !a.empty() && !b.empty() && !RefOverlaps(a, b) && (a.hi + 1 == b.lo || b.hi + 1 == a.lo);
}

// Bounds keep the marker of the operand they come from; on a tie, a's.
RefRange RefIntersection(const RefRange& a, const RefRange& b) {
  if (!RefOverlaps(a, b)) return RefRange();
  RefRange r;
  const RefRange& from_lo = a.lo >= b.lo ? a : b;
  const RefRange& from_hi = a.hi <= b.hi ? a : b;
  r.lo = from_lo.lo;
  r.start_exclusive = from_lo.start_exclusive;
  r.hi = from_hi.hi;
  r.end_inclusive = from_hi.end_inclusive;
  return r;
}

RefRange RefExtent(const RefRange& a, const RefRange& b) {
  if (b.empty()) return a;
  if (a.empty()) return b;
  RefRange r;
  const RefRange& from_lo = a.lo <= b.lo ? a : b;
  const RefRange& from_hi = a.hi >= b.hi ? a : b;
  r.lo = from_lo.lo;
  r.start_exclusive = from_lo.start_exclusive;
  r.hi = from_hi.hi;
  r.end_inclusive = from_hi.end_inclusive;
  return r;
}

// Empty when `actual` holds the same nanoseconds as `expected`, else a description.
std::string CompareSets(const TimeRange& actual, const RefRange& expected) {
  const bool same = actual.is_empty()
                        ? expected.empty()
                        : !expected.empty() &&
                              actual.start() == (expected.has_start() ? expected.lo : INT64_MIN) &&
                              Int{actual.end()} == expected.hi + 1;
  if (same) return "";
  return "got " + actual.to_string() + " = [" + IntToString(actual.start()) + ", " +
         IntToString(actual.end()) + "), reference " + RefToString(expected) + " = " +
         (expected.empty() ? "empty" : IntToString(expected.lo) + ".." + IntToString(expected.hi));
}

// ---------------------------------------------------------------------------------------------
// Generators.

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  int Below(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  bool Chance(int percent) { return Below(100) < percent; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Below(static_cast<int>(v.size())))];
  }

  std::string Digits(int count, bool leading_zero_ok) {
    std::string s;
    for (int i = 0; i < count; ++i) {
      s += static_cast<char>('0' + ((i == 0 && !leading_zero_ok) ? 1 + Below(9) : Below(10)));
    }
    return s;
  }

  // Timestamp text: mostly valid, often near the limits, sometimes subtly wrong.
  std::string TimestampText() {
    static const std::vector<std::string> kSigns = {"", "", "", "", "-", "-", "-", "+", "--", " "};
    static const std::vector<std::string> kSpecialSeconds = {
        "9223372036",  "9223372035", "9223372037", "18446744073", "18446744074", "9999999999",
        "10000000000", "0",          "1",          "00",          "01",          "",
        "4294967296",  "1694429247"};
    static const std::vector<std::string> kSpecialNanos = {
        "854775806", "854775807",  "854775808", "854775805", "854775809",
        "999999999", "0",          "1",         "00",        "01",
        "000000000", "1000000000", "",          "500000000", "9999999999"};
    std::string seconds;
    switch (Below(5)) {
      case 0:
        seconds = Pick(kSpecialSeconds);
        break;
      case 1:
        seconds = Digits(1 + Below(3), false);
        break;
      case 2:
        seconds = Digits(1 + Below(10), false);
        break;
      case 3:
        seconds = Digits(11 + Below(15), Chance(20));
        break;
      default:
        seconds = Chance(50) ? "0" : Digits(1 + Below(10), Chance(10));
        break;
    }
    std::string nanos;
    switch (Below(4)) {
      case 0:
        nanos = Pick(kSpecialNanos);
        break;
      case 1:
        nanos = Digits(1 + Below(9), false);
        break;
      case 2:
        nanos = Digits(1 + Below(11), Chance(15));
        break;
      default:
        nanos = Chance(40) ? "0" : Digits(1 + Below(3), false);
        break;
    }
    std::string text = Pick(kSigns) + seconds + (Chance(97) ? ":" : "") + nanos;
    if (Chance(8)) Mutate(&text);
    return text;
  }

  // A value within 3 ns of a few anchors (the int64 limits, zero, one second, a TAI time), so
  // that generated ranges often share or touch a boundary; may be just outside [kMin, kMax].
  Int BoundaryValue() {
    static const std::vector<Int> kAnchors = {
        kMin,     kMin + 1, kMin + 2, -2 * kNanosPerSecond,        -1, 0, 1, kNanosPerSecond,
        kMax - 2, kMax - 1, kMax,     1694429247 * kNanosPerSecond};
    return Pick(kAnchors) + (Chance(50) ? 0 : Below(7) - 3);
  }

  std::string BoundText(Int value) {
    if (value == 0 && Chance(20)) return "-0:0";
    return FormatTimestamp(value);
  }

  // Range text from every marker / bound / underscore combination. With `valid_only` the
  // timestamps are in range and the text matches the schema.
  std::string RangeText(bool valid_only) {
    static const std::vector<std::string> kOpen = {"", "[", "("};
    static const std::vector<std::string> kClose = {"", "]", ")"};
    auto bound = [&]() -> std::string {
      if (!valid_only && Chance(15)) return TimestampText();
      Int v = BoundaryValue();
      if (valid_only) v = std::clamp(v, kMin, kMax);
      return BoundText(v);
    };
    std::string text = Pick(kOpen);
    const bool has_first = Chance(80);
    const bool has_underscore = Chance(85);
    if (has_first) text += bound();
    if (has_underscore) text += "_";
    if (has_underscore && Chance(80)) text += bound();
    text += Pick(kClose);
    if (!valid_only && Chance(8)) Mutate(&text);
    return text;
  }

  void Mutate(std::string* text) {
    static const std::string kNoise = "0123456789:-+_[]() .x\t";
    const size_t at =
        text->empty() ? 0 : static_cast<size_t>(Below(static_cast<int>(text->size())));
    switch (Below(3)) {
      case 0:
        text->insert(at, 1, kNoise[static_cast<size_t>(Below(static_cast<int>(kNoise.size())))]);
        break;
      case 1:
        if (!text->empty()) text->erase(at, 1);
        break;
      default:
        if (!text->empty()) text->insert(at, 1, (*text)[at]);
        break;
    }
  }

  uint64_t Raw() { return rng_(); }

 private:
  std::mt19937_64 rng_;
};

// Runs `check` on `cases` generated inputs; reports at most kMaxReportedFailures of them.
template <typename Case>
void RunCases(int cases, Case check) {
  int failures = 0;
  for (int i = 0; i < cases; ++i) {
    std::string input;
    const std::string problem = check(&input);
    if (problem.empty()) continue;
    ADD_FAILURE() << "case " << i << " (seed " << kSeed << "), input \"" << input
                  << "\": " << problem;
    if (++failures >= kMaxReportedFailures) {
      ADD_FAILURE() << "stopping after " << failures << " failures";
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------

TEST(TimeProperty, TimestampParseAgreesWithReference) {
  Generator gen(kSeed);
  int accepted = 0;
  RunCases(kTimestampCases, [&](std::string* input) -> std::string {
    *input = gen.TimestampText();
    const RefTimestamp ref = RefParseTimestamp(*input);
    std::string error;
    const std::optional<Timestamp> ts = Timestamp::parse(*input, &error);
    if (!ref.well_formed || !ref.in_range) {
      if (ts) return "accepted as " + IntToString(ts->nanoseconds());
      const bool says_range = error.find("out of range") != std::string::npos;
      if (says_range != ref.well_formed) return "wrong kind of error: " + error;
      return "";
    }
    if (!ts) return "rejected: " + error;
    ++accepted;
    if (Int{ts->nanoseconds()} != ref.value) {
      return "value " + IntToString(ts->nanoseconds()) + ", reference " + IntToString(ref.value);
    }
    if (ts->to_string() != FormatTimestamp(ref.value)) return "printed as " + ts->to_string();
    const std::optional<Timestamp> again = Timestamp::parse(ts->to_string());
    if (!again || *again != *ts) return "canonical form does not round-trip";
    return "";
  });
  // The generator must exercise both sides of the grammar.
  EXPECT_GT(accepted, kTimestampCases / 5);
  EXPECT_LT(accepted, kTimestampCases * 4 / 5);
}

TEST(TimeProperty, TimeRangeParseAgreesWithReference) {
  Generator gen(kSeed + 1);
  int accepted = 0;
  int empty = 0;
  RunCases(kRangeParseCases, [&](std::string* input) -> std::string {
    *input = gen.RangeText(/*valid_only=*/gen.Chance(60));
    const RefParsedRange ref = RefParseRange(*input);
    std::string error;
    const std::optional<TimeRange> range = TimeRange::parse(*input, &error);
    if (!ref.well_formed || !ref.in_range) {
      if (range) return "accepted as " + range->to_string();
      const bool says_range = error.find("out of range") != std::string::npos;
      if (says_range != ref.well_formed) return "wrong kind of error: " + error;
      return "";
    }
    if (!range) return "rejected: " + error;
    ++accepted;
    if (range->is_empty()) ++empty;
    if (std::string diff = CompareSets(*range, ref.range); !diff.empty()) return diff;
    if (range->to_string() != RefToString(ref.range)) {
      return "printed as " + range->to_string() + ", reference " + RefToString(ref.range);
    }
    const std::optional<TimeRange> again = TimeRange::parse(range->to_string());
    if (!again || *again != *range || again->to_string() != range->to_string()) {
      return "canonical form " + range->to_string() + " does not round-trip";
    }
    return "";
  });
  EXPECT_GT(accepted, kRangeParseCases / 3);
  EXPECT_GT(empty, kRangeParseCases / 50);
  EXPECT_LT(empty, accepted / 2);
}

TEST(TimeProperty, IntervalMathsAgreesWithReference) {
  Generator gen(kSeed + 2);
  int overlapping = 0;
  int adjacent = 0;
  int containing = 0;
  RunCases(kRangePairCases, [&](std::string* input) -> std::string {
    const std::string text_a = gen.RangeText(/*valid_only=*/true);
    const std::string text_b = gen.RangeText(/*valid_only=*/true);
    *input = text_a + "\" and \"" + text_b;
    const RefParsedRange ref_a = RefParseRange(text_a);
    const RefParsedRange ref_b = RefParseRange(text_b);
    const std::optional<TimeRange> a = TimeRange::parse(text_a);
    const std::optional<TimeRange> b = TimeRange::parse(text_b);
    if (!ref_a.well_formed || !ref_a.in_range || !ref_b.well_formed || !ref_b.in_range) {
      return "generator produced an invalid range";
    }
    if (!a || !b) return "valid range rejected";
    const RefRange& ra = ref_a.range;
    const RefRange& rb = ref_b.range;

    const bool overlaps = RefOverlaps(ra, rb);
    overlapping += overlaps ? 1 : 0;
    if (a->overlaps(*b) != overlaps || b->overlaps(*a) != overlaps) {
      return "overlaps() should be " + std::string(overlaps ? "true" : "false");
    }
    const bool touches = RefAdjacent(ra, rb);
    adjacent += touches ? 1 : 0;
    if (a->is_adjacent(*b) != touches || b->is_adjacent(*a) != touches) {
      return "is_adjacent() should be " + std::string(touches ? "true" : "false");
    }
    const bool a_contains_b = RefContains(ra, rb);
    containing += a_contains_b ? 1 : 0;
    if (a->contains(*b) != a_contains_b) {
      return "a.contains(b) should be " + std::string(a_contains_b ? "true" : "false");
    }
    if (b->contains(*a) != RefContains(rb, ra)) return "b.contains(a) disagrees";
    if ((*a == *b) != RefEqual(ra, rb)) return "operator== disagrees";

    const RefRange meet = RefIntersection(ra, rb);
    const TimeRange got_meet = a->intersection(*b);
    if (std::string diff = CompareSets(got_meet, meet); !diff.empty()) {
      return "intersection " + diff;
    }
    if (got_meet.to_string() != RefToString(meet)) {
      return "intersection printed " + got_meet.to_string() + ", reference " + RefToString(meet);
    }
    if (b->intersection(*a) != got_meet) return "intersection is not symmetric";

    const RefRange span = RefExtent(ra, rb);
    const TimeRange got_span = a->extent(*b);
    if (std::string diff = CompareSets(got_span, span); !diff.empty()) return "extent " + diff;
    if (got_span.to_string() != RefToString(span)) {
      return "extent printed " + got_span.to_string() + ", reference " + RefToString(span);
    }
    if (b->extent(*a) != got_span) return "extent is not symmetric";

    for (const TimeRange& r : {got_meet, got_span}) {
      const std::optional<TimeRange> again = TimeRange::parse(r.to_string());
      if (!again || *again != r) return "result " + r.to_string() + " does not round-trip";
    }
    return "";
  });
  // The value pool must make every relation common enough to be tested.
  EXPECT_GT(overlapping, kRangePairCases / 10);
  EXPECT_GT(adjacent, kRangePairCases / 200);
  EXPECT_GT(containing, kRangePairCases / 10);
}

TEST(TimeProperty, HalfOpenAgreesWithReference) {
  Generator gen(kSeed + 3);
  RunCases(kHalfOpenCases, [&](std::string* input) -> std::string {
    auto pick = [&](int64_t sentinel) -> int64_t {
      if (gen.Chance(15)) return sentinel;
      if (gen.Chance(5)) return static_cast<int64_t>(gen.Raw());
      return static_cast<int64_t>(std::clamp(gen.BoundaryValue(), kMin, kMax));
    };
    const int64_t start = pick(TimeRange::kUnboundedStart);
    const int64_t end = pick(TimeRange::kUnboundedEnd);
    *input = "half_open(" + IntToString(start) + ", " + IntToString(end) + ")";
    RefRange ref;
    ref.lo = start == INT64_MIN ? kNegInfinity : Int{start};
    ref.hi = Int{end} - 1;
    const TimeRange range = TimeRange::half_open(start, end);
    if (std::string diff = CompareSets(range, ref); !diff.empty()) return diff;
    if (range.to_string() != RefToString(ref)) {
      return "printed as " + range.to_string() + ", reference " + RefToString(ref);
    }
    const std::optional<TimeRange> again = TimeRange::parse(range.to_string());
    if (!again || *again != range) return "canonical form does not round-trip";
    return "";
  });
}

}  // namespace
}  // namespace tams::time
