// Which outgoing URLs tams may call (webhook receivers): a guard against server-side request
// forgery. Only http and https; and no loopback, private, link-local, unspecified, multicast or
// otherwise reserved target address unless an allowlist entry admits it.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tams::core {

enum class AddressClass {
  kPublic,
  kLoopback,     // 127.0.0.0/8, ::1
  kPrivate,      // 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7
  kLinkLocal,    // 169.254/16, fe80::/10
  kUnspecified,  // 0.0.0.0/8, ::
  kMulticast,    // 224/4, ff00::/8
  kReserved,     // 240/4 (incl. broadcast), 192.0.0/24, 198.18/15, documentation ranges, ...
};

const char* address_class_name(AddressClass c);

// An IP address in network byte order; IPv4 as 4 bytes, IPv6 as 16.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};

  static std::optional<IpAddress> parse(std::string_view text);
  static std::optional<IpAddress> from_sockaddr(const sockaddr* address);
  std::string to_string() const;
};

// The class of an address. IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible and NAT64
// (64:ff9b::/96) IPv6 addresses are classified by the IPv4 address they carry.
AddressClass classify(const IpAddress& address);

// The split of a URL the policy needs.
struct UrlParts {
  std::string scheme;  // lower case
  std::string host;    // without brackets for IPv6
  uint16_t port = 0;   // the explicit port or the scheme's default
};

// Thread-safe after construction (immutable).
class UrlPolicy {
 public:
  UrlPolicy() = default;
  // Entries are host names (matched case-insensitively against the URL's host, which admits
  // every address it resolves to), IP addresses, or CIDR blocks ("10.0.0.0/8", "fd00::/8").
  // Throws std::invalid_argument naming the first malformed entry.
  static UrlPolicy parse(const std::vector<std::string>& allowed_hosts);

  // An http(s) URL with a host, no user information, no fragment; nullopt plus `problem`
  // otherwise.
  static std::optional<UrlParts> split(std::string_view url, std::string* problem);

  // True when the host itself is on the allowlist.
  bool host_listed(std::string_view host) const;
  // True when the address may be called: a public address, one inside an allowlisted block, or
  // any address of a listed host.
  bool address_allowed(const IpAddress& address, bool host_listed) const;

  // Full check of a URL for registration: split, resolve the host (getaddrinfo, blocking) and
  // check every address. Returns the problem (one line) or nullopt when the URL is acceptable.
  std::optional<std::string> check(std::string_view url) const;

 private:
  struct Block {
    IpAddress network;
    int prefix = 0;
  };
  std::vector<std::string> hosts_;  // lower case
  std::vector<Block> blocks_;
};

}  // namespace tams::core
