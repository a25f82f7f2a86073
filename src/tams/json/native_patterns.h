// Hand-written matchers for the spec's hottest schema patterns (timestamps, timeranges, UUIDs:
// every segment registration checks them), where std::regex costs a few microseconds a string.
#pragma once

#include <string_view>

namespace tams::json {

// A matcher giving exactly what std::regex_search with the pattern (ECMAScript) gives.
using NativeMatcher = bool (*)(std::string_view);

// The native matcher for this pattern source (as written in the schema), or nullptr when there
// is none and the regex must be used. tests/unit/native_patterns_test.cc compares each against
// std::regex on generated strings.
NativeMatcher native_matcher(std::string_view pattern_source);

}  // namespace tams::json
