// Table-driven tests of Timestamp parsing and printing: tests/unit/data/timestamps.txt.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tams/time/timestamp.h"

namespace tams::time {
namespace {

// One row of a '|'-separated table. `line` is the 1-based line number in the file.
struct Row {
  int line = 0;
  std::vector<std::string> fields;
};

std::string Trim(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return "";
  const size_t last = s.find_last_not_of(" \t\r");
  return std::string(s.substr(first, last - first + 1));
}

// A field in double quotes is literal, with the escapes \t \n \r \\ \" \xNN.
std::string Unquote(const std::string& field) {
  if (field.size() < 2 || field.front() != '"' || field.back() != '"') return field;
  std::string out;
  for (size_t i = 1; i + 1 < field.size(); ++i) {
    if (field[i] != '\\' || i + 2 >= field.size()) {
      out += field[i];
      continue;
    }
    const char e = field[++i];
    if (e == 't') {
      out += '\t';
    } else if (e == 'n') {
      out += '\n';
    } else if (e == 'r') {
      out += '\r';
    } else if (e == 'x') {
      out += static_cast<char>(std::stoi(field.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += e;
    }
  }
  return out;
}

std::vector<Row> ReadTable(const std::string& name) {
  std::ifstream in(std::string(TAMS_TEST_DATA_DIR) + "/" + name);
  EXPECT_TRUE(in.is_open()) << "cannot open " << TAMS_TEST_DATA_DIR << "/" << name;
  std::vector<Row> rows;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    const std::string trimmed = Trim(text);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    const std::string_view view = text;
    Row row{line, {}};
    size_t from = 0;
    while (true) {
      const size_t bar = text.find('|', from);
      row.fields.push_back(Unquote(Trim(view.substr(from, bar - from))));
      if (bar == std::string::npos) break;
      from = bar + 1;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string Where(const std::string& file, const Row& row) {
  return file + ":" + std::to_string(row.line) + ": input \"" + row.fields[0] + "\"";
}

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
