// The native matchers of json/native_patterns against std::regex (ECMAScript, as the schema
// validator would otherwise use) on structured and random strings.
#include "tams/json/native_patterns.h"

#include "tams/json/embedded_schemas.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <random>
#include <regex>
#include <string>
#include <vector>

namespace tams::json {
namespace {

const std::string kTimestamp = R"(^-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8})$)";
const std::string kTimerange =
    R"(^(\[|\()?(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?(_(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?)?(\]|\))?$)";
const std::string kUuid =
    "^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";

void expect_same(const std::string& pattern, const std::vector<std::string>& inputs) {
  NativeMatcher native = native_matcher(pattern);
  ASSERT_NE(native, nullptr) << pattern;
  const std::regex regex(pattern, std::regex::ECMAScript);
  for (const auto& s : inputs) {
    ASSERT_EQ(native(s), std::regex_search(s, regex)) << pattern << " on \"" << s << "\"";
  }
}

// Random strings over `alphabet`, up to `max_length` characters.
std::vector<std::string> random_strings(const std::string& alphabet, size_t max_length,
                                        size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> length(0, max_length);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::vector<std::string> out;
  for (size_t k = 0; k < count; ++k) {
    std::string s(length(rng), ' ');
    for (char& c : s) c = alphabet[pick(rng)];
    out.push_back(std::move(s));
  }
  return out;
}

const std::vector<std::string> kTimeStrings = {
    "", "0:0", "-0:0", "1:0", "10:999999999", "10:1000000000", "01:0", "1:00", "1:01",
    "1:123456789", "1:1234567890", "-1:5", "--1:5", "1:", ":1", "1", "a:0", "0:0 ", " 0:0",
    "1700000000:0", "[0:0_1:0)", "(0:0_1:0]", "[0:0]", "_", "[_]", "()", "[", ")", "[0:0_",
    "_1:0)", "0:0_1:0", "[0:0_1:0))", "[[0:0_1:0)", "[0:0__1:0)", "[-1:0_-0:5)", "[0:0_1:0)\n",
    "[1:01_2:0)", "[1:0_2:", "[1:0_2)", "0:0\n", "\n0:0", "9:999999999", "9:0999", "0:00"};

TEST(NativePatterns, TimestampMatchesTheRegex) {
  expect_same(kTimestamp, kTimeStrings);
  expect_same(kTimestamp, random_strings("0129-:_", 14, 100000, 1));
}

TEST(NativePatterns, TimerangeMatchesTheRegex) {
  expect_same(kTimerange, kTimeStrings);
  expect_same(kTimerange, random_strings("0129-:_[]()", 16, 100000, 2));
  expect_same(kTimerange, random_strings("01-:_[)", 24, 100000, 3));
}

TEST(NativePatterns, UuidMatchesTheRegex) {
  std::vector<std::string> inputs = {"", "00000000-0000-4000-8000-000000000000",
                                     "0000000-0000-4000-8000-0000000000000",
                                     "00000000-0000-6000-8000-000000000000",
                                     "00000000-0000-4000-c000-000000000000",
                                     "00000000-0000-4000-8000-00000000000A",
                                     "00000000-0000-4000-8000-0000000000000",
                                     "00000000-0000-4000-8000-000000000000\n",
                                     "abcdef01-2345-1678-b9ab-cdef01234567"};
  // Random valid-shaped ids with one character changed.
  std::mt19937 rng(4);
  const std::string chars = "0123456789abcdefgA-";
  for (int k = 0; k < 50000; ++k) {
    std::string s = "01234567-89ab-4def-8123-456789abcdef";
    s[rng() % s.size()] = chars[rng() % chars.size()];
    inputs.push_back(s);
  }
  expect_same(kUuid, inputs);
}

// The spec's own pattern strings are the ones with native matchers (a changed spelling would
// silently fall back to std::regex).
TEST(NativePatterns, TheSpecSchemasUseThem) {
  auto pattern_of = [](std::string_view file) {
    for (const auto& schema : embedded_schemas()) {
      if (schema.file_name == file) {
        return std::string(boost::json::parse(schema.text).at("pattern").as_string());
      }
    }
    return std::string();
  };
  EXPECT_NE(native_matcher(pattern_of("timestamp.json")), nullptr);
  EXPECT_NE(native_matcher(pattern_of("timerange.json")), nullptr);
  EXPECT_EQ(pattern_of("timestamp.json"), kTimestamp);
  EXPECT_EQ(pattern_of("timerange.json"), kTimerange);
}

TEST(NativePatterns, OtherPatternsHaveNone) {
  EXPECT_EQ(native_matcher("^[0-9]+_[0-9]+$"), nullptr);
  EXPECT_EQ(native_matcher(""), nullptr);
}

}  // namespace
}  // namespace tams::json
