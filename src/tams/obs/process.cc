#include "tams/obs/process.h"

#include <dirent.h>

#include <fstream>
#include <limits>
#include <string>

namespace tams::obs {

namespace {

// The value of a "Key:   1234 kB" line of /proc/self/status, in bytes.
std::optional<uint64_t> status_kib(std::string_view key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ':') {
      try {
        return std::stoull(line.substr(key.size() + 1)) * 1024;
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> resident_memory_bytes() { return status_kib("VmRSS"); }

std::optional<uint64_t> peak_resident_memory_bytes() { return status_kib("VmHWM"); }

std::optional<uint64_t> open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  uint64_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;  // the descriptor opendir itself holds
}

void register_process_metrics(Registry& registry) {
  auto or_nan = [](std::optional<uint64_t> v) {
    return v ? static_cast<double>(*v) : std::numeric_limits<double>::quiet_NaN();
  };
  registry.callback_gauge("process_resident_memory_bytes", "Resident set size of the process.",
                          [or_nan] { return or_nan(resident_memory_bytes()); });
  registry.callback_gauge("process_peak_resident_memory_bytes",
                          "Peak resident set size of the process since it started.",
                          [or_nan] { return or_nan(peak_resident_memory_bytes()); });
  registry.callback_gauge("process_open_fds", "Open file descriptors of the process.",
                          [or_nan] { return or_nan(open_fds()); });
}

}  // namespace tams::obs
