#include "tams/core/url_policy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace tams::core {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool in_v4(const uint8_t* a, uint8_t b0, uint8_t b1, int prefix) {
  const uint32_t value =
      (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | uint32_t{a[3]};
  const uint32_t network = (uint32_t{b0} << 24) | (uint32_t{b1} << 16);
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (value & mask) == (network & mask);
}

bool in_v4_3(const uint8_t* a, uint8_t b0, uint8_t b1, uint8_t b2) {
  return a[0] == b0 && a[1] == b1 && a[2] == b2;
}

AddressClass classify_v4(const uint8_t* a) {
  if (a[0] == 0) return AddressClass::kUnspecified;
  if (a[0] == 127) return AddressClass::kLoopback;
  if (a[0] == 10 || in_v4(a, 172, 16, 12) || in_v4(a, 192, 168, 16) || in_v4(a, 100, 64, 10)) {
    return AddressClass::kPrivate;
  }
  if (in_v4(a, 169, 254, 16)) return AddressClass::kLinkLocal;
  if (a[0] >= 224 && a[0] < 240) return AddressClass::kMulticast;
  if (a[0] >= 240) return AddressClass::kReserved;
  if (in_v4_3(a, 192, 0, 0) || in_v4_3(a, 192, 0, 2) || in_v4_3(a, 198, 51, 100) ||
      in_v4_3(a, 203, 0, 113) || in_v4(a, 198, 18, 15)) {
    return AddressClass::kReserved;
  }
  return AddressClass::kPublic;
}

bool all_zero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

bool prefix_matches(const IpAddress& address, const IpAddress& network, int prefix) {
  if (address.v6 != network.v6) return false;
  int bits = prefix;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((address.bytes[i] & mask) != (network.bytes[i] & mask)) return false;
  }
  return true;
}

// The IPv4 address an IPv6 address carries (mapped, compatible, NAT64), if any.
std::optional<IpAddress> embedded_v4(const IpAddress& address) {
  if (!address.v6) return std::nullopt;
  const uint8_t* b = address.bytes.data();
  IpAddress v4;
  const bool mapped = all_zero(b, 10) && b[10] == 0xff && b[11] == 0xff;
  const bool compatible =
      all_zero(b, 12) && !all_zero(b + 12, 4) && !(all_zero(b + 12, 3) && b[15] == 1);
  const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (mapped || compatible || std::memcmp(b, nat64, 12) == 0) {
    std::copy(b + 12, b + 16, v4.bytes.begin());
    return v4;
  }
  if (b[0] == 0x20 && b[1] == 0x02) {  // 6to4: 2002:AABB:CCDD::/48
    std::copy(b + 2, b + 6, v4.bytes.begin());
    return v4;
  }
  return std::nullopt;
}

}  // namespace

const char* address_class_name(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic:
      return "public";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kLinkLocal:
      return "link-local";
    case AddressClass::kUnspecified:
      return "unspecified";
    case AddressClass::kMulticast:
      return "multicast";
    case AddressClass::kReserved:
      return "reserved";
  }
  return "?";
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  const std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  IpAddress a;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    std::memcpy(a.bytes.data(), &in->sin_addr, 4);
    return a;
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    a.v6 = true;
    std::memcpy(a.bytes.data(), &in6->sin6_addr, 16);
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof buffer);
  return buffer;
}

AddressClass classify(const IpAddress& address) {
  if (!address.v6) return classify_v4(address.bytes.data());
  const uint8_t* b = address.bytes.data();
  if (all_zero(b, 16)) return AddressClass::kUnspecified;
  if (all_zero(b, 15) && b[15] == 1) return AddressClass::kLoopback;
  if (auto v4 = embedded_v4(address)) return classify_v4(v4->bytes.data());
  if ((b[0] & 0xfe) == 0xfc) return AddressClass::kPrivate;                    // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::kLinkLocal;  // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressClass::kPrivate;    // fec0::/10
  if (b[0] == 0xff) return AddressClass::kMulticast;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
    return AddressClass::kReserved;  // 2001:db8::/32, documentation
  }
  if (b[0] == 0x01 && all_zero(b + 1, 7)) return AddressClass::kReserved;  // 100::/64, discard
  return AddressClass::kPublic;
}

UrlPolicy UrlPolicy::parse(const std::vector<std::string>& allowed_hosts) {
  UrlPolicy policy;
  for (const std::string& entry : allowed_hosts) {
    const size_t slash = entry.find('/');
    if (slash != std::string::npos) {
      auto network = IpAddress::parse(std::string_view(entry).substr(0, slash));
      const std::string_view bits = std::string_view(entry).substr(slash + 1);
      int prefix = -1;
      auto [ptr, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (!network || bits.empty() || ec != std::errc() || ptr != bits.data() + bits.size() ||
          prefix < 0 || prefix > (network->v6 ? 128 : 32)) {
        throw std::invalid_argument("\"" + entry + "\" is not a CIDR block (address/prefix)");
      }
      policy.blocks_.push_back(Block{*network, prefix});
    } else if (auto address = IpAddress::parse(entry)) {
      policy.blocks_.push_back(Block{*address, address->v6 ? 128 : 32});
    } else {
      const bool name = !entry.empty() && entry.size() <= 253 &&
                        std::all_of(entry.begin(), entry.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                 (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
                        });
      if (!name) {
        throw std::invalid_argument("\"" + entry +
                                    "\" is not a host name, an IP address or a CIDR block");
      }
      policy.hosts_.push_back(lower(entry));
    }
  }
  return policy;
}

std::optional<UrlParts> UrlPolicy::split(std::string_view url, std::string* problem) {
  auto fail = [&](std::string text) -> std::optional<UrlParts> {
    if (problem) *problem = std::move(text);
    return std::nullopt;
  };
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return fail("not an absolute URL");
  const boost::urls::url_view& u = *parsed;
  UrlParts parts;
  parts.scheme = lower(u.scheme());
  if (parts.scheme != "http" && parts.scheme != "https") {
    return fail("only http and https URLs are allowed, not \"" + parts.scheme + "\"");
  }
  if (!u.has_authority() || u.encoded_host().empty()) return fail("the URL has no host");
  if (u.has_userinfo()) {
    return fail("the URL must not contain user information (use api_key_name/api_key_value)");
  }
  if (u.has_fragment()) return fail("the URL must not have a fragment");
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
      parts.host = u.host_ipv4_address().to_string();
      break;
    case boost::urls::host_type::ipv6:
      parts.host = u.host_ipv6_address().to_string();
      break;
    case boost::urls::host_type::name: {
      const std::string_view host = u.encoded_host();
      if (host.find('%') != std::string_view::npos) {
        return fail("the host must not be percent-encoded");
      }
      parts.host = lower(host);
      break;
    }
    default:
      return fail("unsupported host form");
  }
  if (u.has_port()) {
    if (u.port().empty() || u.port_number() == 0) return fail("invalid port");
    parts.port = u.port_number();
  } else {
    parts.port = parts.scheme == "https" ? 443 : 80;
  }
  return parts;
}

bool UrlPolicy::host_listed(std::string_view host) const {
  const std::string h = lower(host);
  return std::find(hosts_.begin(), hosts_.end(), h) != hosts_.end();
}

bool UrlPolicy::address_allowed(const IpAddress& address, bool listed) const {
  if (listed || classify(address) == AddressClass::kPublic) return true;
  for (const Block& block : blocks_) {
    if (prefix_matches(address, block.network, block.prefix)) return true;
    // An IPv4 block also admits the IPv6 forms that carry its addresses.
    if (auto v4 = embedded_v4(address); v4 && prefix_matches(*v4, block.network, block.prefix)) {
      return true;
    }
  }
  return false;
}

std::optional<std::string> UrlPolicy::check(std::string_view url) const {
  std::string problem;
  auto parts = split(url, &problem);
  if (!parts) return problem;
  const bool listed = host_listed(parts->host);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(parts->host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return "cannot resolve host \"" + parts->host + "\": " + gai_strerror(rc);
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(found, freeaddrinfo);
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    auto address = IpAddress::from_sockaddr(ai->ai_addr);
    if (!address) continue;
    if (!address_allowed(*address, listed)) {
      return "host \"" + parts->host + "\" resolves to " + address->to_string() + ", a " +
             address_class_name(classify(*address)) +
             " address (not allowed; see webhook_allowed_hosts)";
    }
  }
  return std::nullopt;
}

}  // namespace tams::core
