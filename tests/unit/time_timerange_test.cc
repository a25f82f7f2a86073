// Table-driven tests of TimeRange parsing, printing and interval maths:
// tests/unit/data/{timeranges,overlaps,contains,intersection,extent}.txt.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "tams/time/timerange.h"
#include "tams/time/timestamp.h"
#include "data_table.h"

namespace tams::time {

// Lets GoogleTest show ranges readably when an assertion fails. Internal linkage, but declared in
// the range's namespace so argument-dependent lookup finds it.
static void PrintTo(const TimeRange& range, std::ostream* os) {
  *os << '"' << range.to_string() << "\" (half-open " << range.start() << ", " << range.end()
      << ")";
}

namespace {

using tams::testing::ReadTable;
using tams::testing::Row;
using tams::testing::Where;

// Decodes an expected half-open bound written in the table: "-inf", "+inf", or
// "{-}seconds:nanoseconds" with the sign on the whole value. Independent of Timestamp::parse.
int64_t ExpectedBound(const std::string& text) {
  if (text == "-inf") return TimeRange::kUnboundedStart;
  if (text == "+inf") return TimeRange::kUnboundedEnd;
  const bool negative = text[0] == '-';
  const size_t colon = text.find(':');
  const __int128 magnitude =
      static_cast<__int128>(std::stoull(text.substr(negative ? 1 : 0, colon))) * 1000000000 +
      std::stoull(text.substr(colon + 1));
  return static_cast<int64_t>(negative ? -magnitude : magnitude);
}

TimeRange MustParse(const std::string& text) {
  std::string error;
  const std::optional<TimeRange> range = TimeRange::parse(text, &error);
  EXPECT_TRUE(range.has_value()) << "\"" << text << "\": " << error;
  return range.value_or(TimeRange());
}

bool YesNo(const std::string& text) {
  EXPECT_TRUE(text == "yes" || text == "no") << "bad table cell \"" << text << "\"";
  return text == "yes";
}

TEST(TimeRangeTable, ParsesAndPrintsEveryRow) {
  const std::vector<Row> rows = ReadTable("timeranges.txt");
  ASSERT_GE(rows.size(), 150u);
  for (const Row& row : rows) {
    SCOPED_TRACE(Where("timeranges.txt", row));
    ASSERT_GE(row.fields.size(), 2u);
    const std::string& input = row.fields[0];
    std::string error;
    const std::optional<TimeRange> range = TimeRange::parse(input, &error);
    if (row.fields[1] == "ERROR") {
      ASSERT_EQ(row.fields.size(), 3u);
      EXPECT_FALSE(range.has_value()) << "parsed as " << range->to_string();
      EXPECT_NE(error.find(row.fields[2]), std::string::npos) << "error: " << error;
      EXPECT_EQ(error.rfind("timerange \"", 0), 0u) << "error: " << error;
      EXPECT_EQ(error.find('\n'), std::string::npos) << "error: " << error;
      EXPECT_FALSE(TimeRange::parse(input).has_value());
      continue;
    }
    ASSERT_TRUE(range.has_value()) << error;
    if (row.fields[1] == "EMPTY") {
      ASSERT_EQ(row.fields.size(), 2u);
      EXPECT_TRUE(range->is_empty());
      EXPECT_EQ(*range, TimeRange::empty());
      EXPECT_EQ(range->to_string(), "()");
      continue;
    }
    ASSERT_EQ(row.fields.size(), 4u);
    const int64_t start = ExpectedBound(row.fields[1]);
    const int64_t end = ExpectedBound(row.fields[2]);
    EXPECT_FALSE(range->is_empty());
    EXPECT_EQ(range->start(), start);
    EXPECT_EQ(range->end(), end);
    EXPECT_EQ(range->has_start(), start != TimeRange::kUnboundedStart);
    EXPECT_EQ(range->has_end(), end != TimeRange::kUnboundedEnd);
    EXPECT_EQ(range->is_eternity(), !range->has_start() && !range->has_end());
    EXPECT_EQ(*range, TimeRange::half_open(start, end));
    EXPECT_EQ(range->to_string(), row.fields[3]);
    // The canonical form parses to the same range and prints unchanged.
    const TimeRange again = MustParse(range->to_string());
    EXPECT_EQ(again, *range);
    EXPECT_EQ(again.to_string(), row.fields[3]);
  }
}

TEST(TimeRangeTable, OverlapsAndAdjacency) {
  const std::vector<Row> rows = ReadTable("overlaps.txt");
  ASSERT_GE(rows.size(), 50u);
  for (const Row& row : rows) {
    SCOPED_TRACE(Where("overlaps.txt", row) + " vs \"" + row.fields[1] + "\"");
    ASSERT_EQ(row.fields.size(), 4u);
    const TimeRange a = MustParse(row.fields[0]);
    const TimeRange b = MustParse(row.fields[1]);
    EXPECT_EQ(a.overlaps(b), YesNo(row.fields[2]));
    EXPECT_EQ(b.overlaps(a), YesNo(row.fields[2]));
    EXPECT_EQ(a.is_adjacent(b), YesNo(row.fields[3]));
    EXPECT_EQ(b.is_adjacent(a), YesNo(row.fields[3]));
    // Overlap is exactly a non-empty intersection.
    EXPECT_EQ(a.overlaps(b), !a.intersection(b).is_empty());
  }
}

TEST(TimeRangeTable, Contains) {
  const std::vector<Row> rows = ReadTable("contains.txt");
  ASSERT_GE(rows.size(), 40u);
  for (const Row& row : rows) {
    SCOPED_TRACE(Where("contains.txt", row) + " vs \"" + row.fields[1] + "\"");
    ASSERT_EQ(row.fields.size(), 4u);
    const TimeRange a = MustParse(row.fields[0]);
    const TimeRange b = MustParse(row.fields[1]);
    EXPECT_EQ(a.contains(b), YesNo(row.fields[2]));
    EXPECT_EQ(b.contains(a), YesNo(row.fields[3]));
    // Mutual containment is equality of the sets.
    EXPECT_EQ(a.contains(b) && b.contains(a), a == b);
    // a contains b exactly when b is its own intersection with a.
    EXPECT_EQ(a.contains(b), a.intersection(b) == b);
  }
}

TEST(TimeRangeTable, Intersection) {
  const std::vector<Row> rows = ReadTable("intersection.txt");
  ASSERT_GE(rows.size(), 30u);
  for (const Row& row : rows) {
    SCOPED_TRACE(Where("intersection.txt", row) + " with \"" + row.fields[1] + "\"");
    ASSERT_EQ(row.fields.size(), 3u);
    const TimeRange a = MustParse(row.fields[0]);
    const TimeRange b = MustParse(row.fields[1]);
    const TimeRange expected = MustParse(row.fields[2]);
    EXPECT_EQ(a.intersection(b).to_string(), row.fields[2]);
    EXPECT_EQ(a.intersection(b), expected);
    EXPECT_EQ(b.intersection(a), expected);
    EXPECT_TRUE(a.contains(a.intersection(b)));
    EXPECT_TRUE(b.contains(a.intersection(b)));
  }
}

TEST(TimeRangeTable, Extent) {
  const std::vector<Row> rows = ReadTable("extent.txt");
  ASSERT_GE(rows.size(), 30u);
  for (const Row& row : rows) {
    SCOPED_TRACE(Where("extent.txt", row) + " with \"" + row.fields[1] + "\"");
    ASSERT_EQ(row.fields.size(), 3u);
    const TimeRange a = MustParse(row.fields[0]);
    const TimeRange b = MustParse(row.fields[1]);
    const TimeRange expected = MustParse(row.fields[2]);
    EXPECT_EQ(a.extent(b).to_string(), row.fields[2]);
    EXPECT_EQ(a.extent(b), expected);
    EXPECT_EQ(b.extent(a), expected);
    EXPECT_TRUE(a.extent(b).contains(a));
    EXPECT_TRUE(a.extent(b).contains(b));
  }
}

TEST(TimeRange, Factories) {
  EXPECT_TRUE(TimeRange().is_empty());
  EXPECT_EQ(TimeRange().to_string(), "()");
  EXPECT_EQ(TimeRange::empty(), TimeRange());

  const TimeRange forever = TimeRange::eternity();
  EXPECT_TRUE(forever.is_eternity());
  EXPECT_FALSE(forever.is_empty());
  EXPECT_EQ(forever.start(), TimeRange::kUnboundedStart);
  EXPECT_EQ(forever.end(), TimeRange::kUnboundedEnd);
  EXPECT_EQ(forever.to_string(), "_");
  EXPECT_EQ(forever, MustParse("_"));

  const TimeRange at_five = TimeRange::instant(Timestamp(5));
  EXPECT_EQ(at_five.start(), 5);
  EXPECT_EQ(at_five.end(), 6);
  EXPECT_EQ(at_five.to_string(), "[0:5]");
  EXPECT_EQ(at_five, MustParse("[0:5]"));
  EXPECT_EQ(TimeRange::instant(Timestamp(Timestamp::kMax)).to_string(), "[9223372036:854775806]");
  EXPECT_EQ(TimeRange::instant(Timestamp(Timestamp::kMin)).to_string(), "[-9223372036:854775807]");
  // An instant is written "[t_t]", so an extent that takes its end keeps "]".
  EXPECT_EQ(TimeRange::instant(Timestamp(5)).extent(MustParse("[0:0_0:1)")).to_string(),
            "[0:0_0:5]");

  EXPECT_EQ(TimeRange::half_open(0, 10).to_string(), "[0:0_0:10)");
  EXPECT_EQ(TimeRange::half_open(-10, 0).to_string(), "[-0:10_0:0)");
  EXPECT_EQ(TimeRange::half_open(7, 8).to_string(), "[0:7]");
  EXPECT_EQ(TimeRange::half_open(TimeRange::kUnboundedStart, 10).to_string(), "_0:10)");
  EXPECT_EQ(TimeRange::half_open(10, TimeRange::kUnboundedEnd).to_string(), "[0:10_");
  EXPECT_TRUE(
      TimeRange::half_open(TimeRange::kUnboundedStart, TimeRange::kUnboundedEnd).is_eternity());
  EXPECT_TRUE(TimeRange::half_open(10, 10).is_empty());
  EXPECT_TRUE(TimeRange::half_open(10, 0).is_empty());
  EXPECT_TRUE(
      TimeRange::half_open(TimeRange::kUnboundedEnd, TimeRange::kUnboundedStart).is_empty());
  EXPECT_EQ(TimeRange::half_open(10, 0).to_string(), "()");
}

TEST(TimeRange, EqualityIgnoresMarkers) {
  EXPECT_EQ(MustParse("[0:0_10:0]"), MustParse("[0:0_10:1)"));
  EXPECT_EQ(MustParse("(0:0_10:0)"), MustParse("[0:1_9:999999999]"));
  EXPECT_EQ(MustParse("()"), MustParse("[10:0_0:0)"));
  EXPECT_EQ(MustParse("(5:0)"), MustParse(""));
  EXPECT_NE(MustParse("[0:0_10:0]"), MustParse("[0:0_10:0)"));
  EXPECT_NE(MustParse("_"), MustParse("()"));
  // Markers are kept for printing, though.
  EXPECT_EQ(MustParse("[0:0_10:0]").to_string(), "[0:0_10:0]");
  EXPECT_EQ(MustParse("[0:0_10:1)").to_string(), "[0:0_10:1)");
}

TEST(TimeRange, ErrorMessages) {
  std::string error;
  EXPECT_FALSE(TimeRange::parse("[0:0_1:x)", &error));
  EXPECT_EQ(error,
            "timerange \"[0:0_1:x)\": malformed end timestamp \"1:x\" (unexpected character 'x' in "
            "nanoseconds)");
  EXPECT_FALSE(TimeRange::parse("[0:0_99999999999:0)", &error));
  EXPECT_EQ(error,
            "timerange \"[0:0_99999999999:0)\": end timestamp \"99999999999:0\" out of range (must "
            "be within [-9223372036:854775807, 9223372036:854775806])");
  EXPECT_FALSE(TimeRange::parse("[[0:0_1:0)", &error));
  EXPECT_EQ(error, "timerange \"[[0:0_1:0)\": misplaced '[' at offset 1");

  error = "unchanged";
  EXPECT_TRUE(TimeRange::parse("[0:0_1:0)", &error));
  EXPECT_EQ(error, "unchanged");
  EXPECT_FALSE(TimeRange::parse(std::string(500, '[') + "0:0", &error));
  EXPECT_LT(error.size(), 300u);
}

TEST(TimeRange, AccessorsOnPartlyBoundedRanges) {
  const TimeRange after = MustParse("(5:0_");
  EXPECT_TRUE(after.has_start());
  EXPECT_FALSE(after.has_end());
  EXPECT_FALSE(after.is_eternity());
  EXPECT_EQ(after.start(), 5'000'000'001);
  const TimeRange before = MustParse("_5:0]");
  EXPECT_FALSE(before.has_start());
  EXPECT_TRUE(before.has_end());
  EXPECT_EQ(before.end(), 5'000'000'001);
}

}  // namespace
}  // namespace tams::time
