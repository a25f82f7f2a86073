#include "tams/media/s3/endpoints.h"

#include <spdlog/spdlog.h>

#include <boost/url/parse.hpp>
#include <stdexcept>

namespace tams::media::s3 {

Endpoint parse_endpoint(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) throw std::invalid_argument("expected an http(s)://host[:port][/path] URL");
  const auto& u = *parsed;
  const std::string scheme(u.scheme());
  if (scheme != "http" && scheme != "https") {
    throw std::invalid_argument("expected an http:// or https:// URL");
  }
  if (u.has_userinfo()) throw std::invalid_argument("must not contain user information");
  if (u.has_query() || u.has_fragment()) {
    throw std::invalid_argument("must not contain a query or a fragment");
  }
  if (u.encoded_host().empty()) throw std::invalid_argument("has no host");
  Endpoint e;
  e.url = std::string(text);
  e.scheme = scheme;
  e.authority = std::string(u.encoded_authority());
  e.base_path = std::string(u.path());
  while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
  return e;
}

EndpointSet::EndpointSet(std::string name, std::vector<Endpoint> endpoints)
    : name_(std::move(name)), endpoints_(std::move(endpoints)),
      healthy_(new std::atomic<bool>[endpoints_.size()]) {
  if (endpoints_.empty()) throw std::invalid_argument("no endpoints");
  for (size_t i = 0; i < endpoints_.size(); ++i) healthy_[i].store(true);
}

bool EndpointSet::any_healthy() const {
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (healthy(i)) return true;
  }
  return false;
}

void EndpointSet::set_healthy(size_t i, bool healthy, std::string_view reason) const {
  const bool was = healthy_[i].exchange(healthy);
  if (was == healthy) return;
  if (healthy) {
    spdlog::info("{}: endpoint {} is answering again", name_, endpoints_[i].url);
  } else {
    spdlog::warn("{}: endpoint {} is unhealthy ({}); skipping it until it answers", name_,
                 endpoints_[i].url, reason);
  }
}

std::optional<size_t> EndpointSet::next_healthy() const {
  const size_t n = endpoints_.size();
  const size_t start = cursor_.fetch_add(1, std::memory_order_relaxed) % n;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (start + k) % n;
    if (healthy(i)) return i;
  }
  return std::nullopt;
}

size_t EndpointSet::next_any() const {
  return cursor_.fetch_add(1, std::memory_order_relaxed) % endpoints_.size();
}

std::vector<size_t> EndpointSet::healthy_in_rotation() const {
  const size_t n = endpoints_.size();
  const size_t start = cursor_.fetch_add(1, std::memory_order_relaxed) % n;
  std::vector<size_t> out;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (start + k) % n;
    if (healthy(i)) out.push_back(i);
  }
  return out;
}

}  // namespace tams::media::s3
