#include "tams/time/timestamp.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tams::time {
namespace {

constexpr uint64_t kNanosPerSecond = 1'000'000'000;
// Largest magnitude allowed on each side: kMax for positive values, -kMin for negative ones.
constexpr uint64_t kMaxPositiveMagnitude = static_cast<uint64_t>(Timestamp::kMax);
constexpr uint64_t kMaxNegativeMagnitude = static_cast<uint64_t>(-Timestamp::kMin);
// kMax is 9223372036:854775806, so a seconds part with more digits than this is out of range.
constexpr size_t kMaxSecondsDigits = 10;
constexpr size_t kMaxNanosDigits = 9;
// Longest input echoed in an error message; the rest is elided.
constexpr size_t kMaxQuotedChars = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void AppendEscaped(char c, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto byte = static_cast<unsigned char>(c);
  if (c == '"' || c == '\\') {
    out->push_back('\\');
    out->push_back(c);
  } else if (byte < 0x20 || byte >= 0x7f) {
    *out += "\\x";
    out->push_back(kHex[byte >> 4]);
    out->push_back(kHex[byte & 0xf]);
  } else {
    out->push_back(c);
  }
}

// Empty when `digits` is a non-empty run of decimal digits without a leading zero, otherwise the
// reason naming the problem in `part` ("seconds" or "nanoseconds").
std::string CheckDigits(std::string_view digits, std::string_view part) {
  if (digits.empty()) return "missing " + std::string(part);
  for (char c : digits) {
    if (!IsDigit(c)) {
      std::string reason = "unexpected character '";
      AppendEscaped(c, &reason);
      return reason + "' in " + std::string(part);
    }
  }
  if (digits.size() > 1 && digits[0] == '0') return "leading zero in " + std::string(part);
  return "";
}

// Precondition: `digits` holds at most 19 decimal digits.
uint64_t DigitsValue(std::string_view digits) {
  uint64_t value = 0;
  for (char c : digits) value = value * 10 + static_cast<uint64_t>(c - '0');
  return value;
}

}  // namespace

std::string Timestamp::quote_for_error(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, kMaxQuotedChars)) AppendEscaped(c, &out);
  if (text.size() > kMaxQuotedChars) out += "...";
  out += '"';
  return out;
}

std::optional<Timestamp> Timestamp::parse_with_reason(std::string_view text, std::string* reason,
                                                      bool* out_of_range) {
  *out_of_range = false;
  auto fail = [reason](std::string why) -> std::optional<Timestamp> {
    if (reason != nullptr) *reason = std::move(why);
    return std::nullopt;
  };
  if (text.empty()) return fail("empty");
  for (char c : text) {
    if (IsSpace(c)) return fail("whitespace is not allowed");
  }
  std::string_view rest = text;
  const bool negative = rest[0] == '-';
  if (rest[0] == '+') return fail("'+' sign is not allowed");
  if (negative) rest.remove_prefix(1);
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return fail("missing ':' between seconds and nanoseconds");
  const std::string_view seconds = rest.substr(0, colon);
  const std::string_view nanos = rest.substr(colon + 1);
  if (nanos.find(':') != std::string_view::npos) return fail("more than one ':'");
  if (std::string why = CheckDigits(seconds, "seconds"); !why.empty()) return fail(why);
  if (std::string why = CheckDigits(nanos, "nanoseconds"); !why.empty()) return fail(why);
  if (nanos.size() > kMaxNanosDigits) {
    return fail("more than 9 digits in nanoseconds (the part after ':' is a count of ns)");
  }

  // Well-formed; only the magnitude can still be wrong. Bounding the digit count first keeps
  // seconds * 1e9 + nanos below 1e19, so the arithmetic cannot overflow uint64.
  auto range_error = [&] {
    *out_of_range = true;
    return fail("out of range (must be within [" + Timestamp(kMin).to_string() + ", " +
                Timestamp(kMax).to_string() + "])");
  };
  if (seconds.size() > kMaxSecondsDigits) return range_error();
  const uint64_t magnitude = DigitsValue(seconds) * kNanosPerSecond + DigitsValue(nanos);
  if (magnitude > (negative ? kMaxNegativeMagnitude : kMaxPositiveMagnitude)) {
    return range_error();
  }
  // magnitude <= 2^63 - 1 here, so the conversion is exact; "-0:0" yields 0.
  const auto value = static_cast<int64_t>(magnitude);
  return Timestamp(negative ? -value : value);
}

std::optional<Timestamp> Timestamp::parse(std::string_view text, std::string* error) {
  std::string reason;
  bool out_of_range = false;
  std::optional<Timestamp> result =
      parse_with_reason(text, error != nullptr ? &reason : nullptr, &out_of_range);
  if (!result && error != nullptr) *error = "timestamp " + quote_for_error(text) + ": " + reason;
  return result;
}

std::string Timestamp::to_string() const {
  // Unsigned negation is defined for every value, including INT64_MIN.
  const uint64_t magnitude =
      ns_ < 0 ? uint64_t{0} - static_cast<uint64_t>(ns_) : static_cast<uint64_t>(ns_);
  std::string out = ns_ < 0 ? "-" : "";
  out += std::to_string(magnitude / kNanosPerSecond);
  out += ':';
  out += std::to_string(magnitude % kNanosPerSecond);
  return out;
}

}  // namespace tams::time
