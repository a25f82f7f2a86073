#include "tams/core/clock.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

namespace tams::core {

std::string now_rfc3339() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = floor<seconds>(now);
  const auto micros = duration_cast<microseconds>(now - secs).count();
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", secs, micros);
}

}  // namespace tams::core
