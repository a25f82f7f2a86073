// Wall-clock time in the form TAMS bodies use.
#pragma once

#include <string>

namespace tams::core {

// The current UTC time as RFC 3339 with microseconds and 'Z', e.g.
// "2026-11-26T04:00:22.123456Z". Thread-safe.
std::string now_rfc3339();

}  // namespace tams::core
