// Small helpers shared by the unit tests of core and jobs.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace tams::test {

// A valid TAMS id numbered n: 00000000-0000-4000-8000-00000000000n.
inline std::string id_of(int n) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "00000000-0000-4000-8000-%012d", n);
  return buffer;
}

// A minimal data flow document.
inline boost::json::object data_flow(const std::string& id, const std::string& source_id) {
  return boost::json::object{{"id", id},
                             {"source_id", source_id},
                             {"format", "urn:x-nmos:format:data"},
                             {"codec", "application/json"},
                             {"container", "application/json"},
                             {"essence_parameters", boost::json::object{}}};
}

// Polls `predicate` every 5 ms until it holds or `timeout` passes; returns its last value.
template <class F>
bool eventually(F&& predicate, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return predicate();
}

}  // namespace tams::test
