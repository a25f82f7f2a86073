// What the process itself costs, read from /proc/self at scrape time.
#pragma once

#include <cstdint>
#include <optional>

#include "tams/obs/metrics.h"

namespace tams::obs {

// Resident set size in bytes (VmRSS of /proc/self/status), or nullopt when unreadable.
std::optional<uint64_t> resident_memory_bytes();
// Peak resident set size in bytes (VmHWM), or nullopt when unreadable.
std::optional<uint64_t> peak_resident_memory_bytes();
// Number of open file descriptors (entries of /proc/self/fd), or nullopt when unreadable.
std::optional<uint64_t> open_fds();

// Registers process_resident_memory_bytes, process_peak_resident_memory_bytes and
// process_open_fds as callback gauges of `registry`.
void register_process_metrics(Registry& registry);

}  // namespace tams::obs
