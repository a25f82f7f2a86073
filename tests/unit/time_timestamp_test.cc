// Table-driven tests of Timestamp parsing and printing: tests/unit/data/timestamps.txt.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tams/time/timestamp.h"
#include "data_table.h"

namespace tams::time {
namespace {

using tams::testing::ReadTable;
using tams::testing::Row;
using tams::testing::Where;

TEST(TimestampTable, ParsesAndPrintsEveryRow) {
  const std::vector<Row> rows = ReadTable("timestamps.txt");
  ASSERT_GE(rows.size(), 100u);
  for (const Row& row : rows) {
    SCOPED_TRACE(Where("timestamps.txt", row));
    ASSERT_EQ(row.fields.size(), 3u);
    const std::string& input = row.fields[0];
    std::string error;
    const std::optional<Timestamp> ts = Timestamp::parse(input, &error);
    if (row.fields[1] == "ERROR") {
      EXPECT_FALSE(ts.has_value()) << "parsed as " << ts->nanoseconds();
      EXPECT_NE(error.find(row.fields[2]), std::string::npos) << "error: " << error;
      EXPECT_EQ(error.rfind("timestamp \"", 0), 0u) << "error: " << error;
      EXPECT_EQ(error.find('\n'), std::string::npos) << "error: " << error;
      EXPECT_FALSE(Timestamp::parse(input).has_value());  // Also without an error sink.
      continue;
    }
    ASSERT_TRUE(ts.has_value()) << error;
    EXPECT_EQ(ts->nanoseconds(), std::stoll(row.fields[1]));
    EXPECT_EQ(ts->to_string(), row.fields[2]);
    // The canonical form is itself valid and canonical.
    const std::optional<Timestamp> again = Timestamp::parse(ts->to_string());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, *ts);
    EXPECT_EQ(again->to_string(), row.fields[2]);
  }
}

TEST(Timestamp, ErrorMessagesNameInputAndProblem) {
  std::string error;
  EXPECT_FALSE(Timestamp::parse("01:0", &error));
  EXPECT_EQ(error, "timestamp \"01:0\": leading zero in seconds");
  EXPECT_FALSE(Timestamp::parse("9223372036:854775807", &error));
  EXPECT_EQ(error,
            "timestamp \"9223372036:854775807\": out of range (must be within "
            "[-9223372036:854775807, 9223372036:854775806])");
  // Control characters are escaped and long inputs shortened: the message stays one line.
  EXPECT_FALSE(Timestamp::parse(std::string("1:0\n") + std::string(200, '9'), &error));
  EXPECT_EQ(error.find('\n'), std::string::npos);
  EXPECT_NE(error.find("1:0\\x0a999"), std::string::npos) << error;
  EXPECT_NE(error.find("...\""), std::string::npos) << error;
  EXPECT_LT(error.size(), 200u) << error;
}

TEST(Timestamp, ParseLeavesErrorUntouchedOnSuccess) {
  std::string error = "unchanged";
  EXPECT_TRUE(Timestamp::parse("1:0", &error));
  EXPECT_EQ(error, "unchanged");
}

TEST(Timestamp, ToStringOfLimitsAndSentinels) {
  EXPECT_EQ(Timestamp().to_string(), "0:0");
  EXPECT_EQ(Timestamp(Timestamp::kMax).to_string(), "9223372036:854775806");
  EXPECT_EQ(Timestamp(Timestamp::kMin).to_string(), "-9223372036:854775807");
  // Outside the precondition, but printing must still be well defined (no signed overflow).
  EXPECT_EQ(Timestamp(INT64_MIN).to_string(), "-9223372036:854775808");
  EXPECT_EQ(Timestamp(INT64_MAX).to_string(), "9223372036:854775807");
}

TEST(Timestamp, OrdersByValue) {
  static_assert(Timestamp(-1) < Timestamp(0));
  static_assert(Timestamp(5) == Timestamp(5));
  static_assert(Timestamp(Timestamp::kMin) < Timestamp(Timestamp::kMax));
  EXPECT_LT(*Timestamp::parse("-1:0"), *Timestamp::parse("-0:999999999"));
  EXPECT_EQ(*Timestamp::parse("-0:0"), *Timestamp::parse("0:0"));
}

}  // namespace
}  // namespace tams::time
