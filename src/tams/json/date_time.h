// RFC 3339 date-time syntax check, as used by the JSON Schema "date-time" format.
#pragma once

#include <string_view>

namespace tams::json {

// True when `text` is an RFC 3339 section 5.6 `date-time`, e.g. "2024-04-25T15:56:00.0Z" or
// "2024-04-25t15:56:00+01:00": a real calendar date (leap years included), hours 00-23, minutes
// 00-59, seconds 00-60 where 60 (a leap second) is accepted only when the time is 23:59 in UTC
// after applying the offset, an optional fraction of one or more digits, and a mandatory offset
// ("Z"/"z" or +hh:mm/-hh:mm). "T" and "Z" may be lower case (RFC 3339 note in 5.6); a space in
// place of "T" is rejected. Pure function, safe from any thread.
bool is_rfc3339_date_time(std::string_view text);

}  // namespace tams::json
