// The endpoints (gateways) of one S3 backend and their health: presigned URLs and server-side
// requests are spread over the healthy ones in rotation; an endpoint marked unhealthy (by a
// failed probe or request) is skipped until a probe finds it answering again.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tams::media::s3 {

// One configured endpoint URL, split.
struct Endpoint {
  std::string url;        // as configured (no credentials: they are refused)
  std::string scheme;     // "http" or "https"
  std::string authority;  // host[:port] as written
  std::string base_path;  // "" or "/prefix" without a trailing slash
};

// Parses "http(s)://host[:port][/prefix]". Throws std::invalid_argument with a one-line
// reason on anything else (user info, query, fragment, other schemes).
Endpoint parse_endpoint(std::string_view url);

// Thread-safe. Every endpoint starts healthy until told otherwise.
class EndpointSet {
 public:
  // `name` prefixes the health transitions it logs. Throws std::invalid_argument when empty.
  EndpointSet(std::string name, std::vector<Endpoint> endpoints);

  size_t size() const { return endpoints_.size(); }
  const Endpoint& at(size_t i) const { return endpoints_[i]; }
  bool healthy(size_t i) const { return healthy_[i].load(std::memory_order_relaxed); }
  bool any_healthy() const;

  // Records whether endpoint i answers; logs when it changes (warn when lost, info when back).
  void set_healthy(size_t i, bool healthy, std::string_view reason = {}) const;

  // The next healthy endpoint in rotation, or nullopt when none is.
  std::optional<size_t> next_healthy() const;
  // The next endpoint in rotation, healthy or not.
  size_t next_any() const;
  // All healthy endpoints, starting at the next in rotation (for retrying a request elsewhere).
  std::vector<size_t> healthy_in_rotation() const;

 private:
  std::string name_;
  std::vector<Endpoint> endpoints_;
  std::unique_ptr<std::atomic<bool>[]> healthy_;
  mutable std::atomic<uint64_t> cursor_{0};
};

}  // namespace tams::media::s3
