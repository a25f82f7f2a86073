// The outgoing URL policy of webhooks (SSRF): address classes, allowlists, URL checks.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "tams/core/url_policy.h"

namespace tams::core {
namespace {

AddressClass class_of(const std::string& text) {
  auto address = IpAddress::parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address ? classify(*address) : AddressClass::kPublic;
}

struct ClassCase {
  const char* address;
  AddressClass expected;
};

class AddressClassTest : public ::testing::TestWithParam<ClassCase> {};

TEST_P(AddressClassTest, Classifies) {
  EXPECT_EQ(class_of(GetParam().address), GetParam().expected)
      << GetParam().address << " is " << address_class_name(class_of(GetParam().address));
}

INSTANTIATE_TEST_SUITE_P(
    Addresses, AddressClassTest,
    ::testing::Values(ClassCase{"127.0.0.1", AddressClass::kLoopback},
                      ClassCase{"127.255.255.254", AddressClass::kLoopback},
                      ClassCase{"::1", AddressClass::kLoopback},
                      ClassCase{"10.0.0.1", AddressClass::kPrivate},
                      ClassCase{"10.255.255.255", AddressClass::kPrivate},
                      ClassCase{"172.16.0.1", AddressClass::kPrivate},
                      ClassCase{"172.31.255.255", AddressClass::kPrivate},
                      ClassCase{"172.32.0.1", AddressClass::kPublic},
                      ClassCase{"172.15.255.255", AddressClass::kPublic},
                      ClassCase{"192.168.1.1", AddressClass::kPrivate},
                      ClassCase{"100.64.0.1", AddressClass::kPrivate},
                      ClassCase{"100.128.0.1", AddressClass::kPublic},
                      ClassCase{"fc00::1", AddressClass::kPrivate},
                      ClassCase{"fd12:3456::1", AddressClass::kPrivate},
                      ClassCase{"169.254.169.254", AddressClass::kLinkLocal},
                      ClassCase{"fe80::1", AddressClass::kLinkLocal},
                      ClassCase{"febf::1", AddressClass::kLinkLocal},
                      ClassCase{"0.0.0.0", AddressClass::kUnspecified},
                      ClassCase{"0.1.2.3", AddressClass::kUnspecified},
                      ClassCase{"::", AddressClass::kUnspecified},
                      ClassCase{"224.0.0.1", AddressClass::kMulticast},
                      ClassCase{"ff02::1", AddressClass::kMulticast},
                      ClassCase{"255.255.255.255", AddressClass::kReserved},
                      ClassCase{"240.0.0.1", AddressClass::kReserved},
                      ClassCase{"192.0.2.1", AddressClass::kReserved},
                      ClassCase{"198.18.0.1", AddressClass::kReserved},
                      ClassCase{"2001:db8::1", AddressClass::kReserved},
                      ClassCase{"8.8.8.8", AddressClass::kPublic},
                      ClassCase{"93.184.216.34", AddressClass::kPublic},
                      ClassCase{"2606:4700::1111", AddressClass::kPublic},
                      // IPv6 forms that carry an IPv4 address are judged by that address.
                      ClassCase{"::ffff:127.0.0.1", AddressClass::kLoopback},
                      ClassCase{"::ffff:10.0.0.1", AddressClass::kPrivate},
                      ClassCase{"::ffff:8.8.8.8", AddressClass::kPublic},
                      ClassCase{"::127.0.0.1", AddressClass::kLoopback},
                      ClassCase{"64:ff9b::a9fe:a9fe", AddressClass::kLinkLocal},
                      ClassCase{"2002:7f00:1::", AddressClass::kLoopback}));

TEST(UrlPolicyTest, ParsesAllowlistEntries) {
  UrlPolicy policy =
      UrlPolicy::parse({"127.0.0.1", "10.0.0.0/8", "fd00::/8", "Hooks.Internal", "::1"});
  EXPECT_TRUE(policy.host_listed("hooks.internal"));
  EXPECT_TRUE(policy.host_listed("HOOKS.internal"));
  EXPECT_FALSE(policy.host_listed("other.internal"));
  auto allowed = [&](const char* text) {
    return policy.address_allowed(*IpAddress::parse(text), false);
  };
  EXPECT_TRUE(allowed("127.0.0.1"));
  EXPECT_TRUE(allowed("::ffff:127.0.0.1"));  // the mapped form of an allowed IPv4 address
  EXPECT_FALSE(allowed("127.0.0.2"));
  EXPECT_TRUE(allowed("10.20.30.40"));
  EXPECT_FALSE(allowed("192.168.0.1"));
  EXPECT_TRUE(allowed("fd00::5"));
  EXPECT_FALSE(allowed("fc00::5"));
  EXPECT_TRUE(allowed("::1"));
  EXPECT_TRUE(allowed("8.8.8.8"));  // public addresses need no entry
  // A listed host name admits whatever its addresses are.
  EXPECT_TRUE(policy.address_allowed(*IpAddress::parse("192.168.0.1"), true));
}

TEST(UrlPolicyTest, EmptyPolicyAllowsOnlyPublicAddresses) {
  UrlPolicy policy;
  EXPECT_TRUE(policy.address_allowed(*IpAddress::parse("93.184.216.34"), false));
  EXPECT_FALSE(policy.address_allowed(*IpAddress::parse("127.0.0.1"), false));
  EXPECT_FALSE(policy.address_allowed(*IpAddress::parse("169.254.169.254"), false));
}

TEST(UrlPolicyTest, RefusesMalformedEntries) {
  for (const char* entry : {"", "10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/x",
                            "not a host", "bad/8", "http://x"}) {
    EXPECT_THROW(UrlPolicy::parse({entry}), std::invalid_argument) << entry;
  }
}

TEST(UrlPolicyTest, SplitsUrls) {
  std::string problem;
  auto parts = UrlPolicy::split("https://Hook.Example.com/path?q=1", &problem);
  ASSERT_TRUE(parts) << problem;
  EXPECT_EQ(parts->scheme, "https");
  EXPECT_EQ(parts->host, "hook.example.com");
  EXPECT_EQ(parts->port, 443);
  parts = UrlPolicy::split("HTTP://[::1]:8080/x", &problem);
  ASSERT_TRUE(parts) << problem;
  EXPECT_EQ(parts->scheme, "http");
  EXPECT_EQ(parts->host, "::1");
  EXPECT_EQ(parts->port, 8080);
  parts = UrlPolicy::split("http://127.0.0.1/", &problem);
  ASSERT_TRUE(parts) << problem;
  EXPECT_EQ(parts->port, 80);
}

TEST(UrlPolicyTest, RefusesUnusableUrls) {
  for (const char* url :
       {"ftp://example.com/", "file:///etc/passwd", "gopher://x/", "example.com", "/relative",
        "http://", "http:///path", "http://u:p@example.com/", "http://example.com/#frag",
        "http://ex%61mple.com/", "http://example.com:0/", "not a url"}) {
    std::string problem;
    EXPECT_FALSE(UrlPolicy::split(url, &problem)) << url;
    EXPECT_FALSE(problem.empty()) << url;
  }
}

TEST(UrlPolicyTest, ChecksResolvedAddresses) {
  UrlPolicy none;
  auto problem = none.check("http://127.0.0.1:8080/hook");
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("loopback"), std::string::npos) << *problem;
  problem = none.check("http://localhost/hook");
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("loopback"), std::string::npos) << *problem;
  problem = none.check("http://[fe80::1]/hook");
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("link-local"), std::string::npos) << *problem;
  EXPECT_EQ(none.check("http://93.184.216.34/hook"), std::nullopt);
  EXPECT_TRUE(none.check("ftp://93.184.216.34/"));

  UrlPolicy loopback = UrlPolicy::parse({"127.0.0.1"});
  EXPECT_EQ(loopback.check("http://127.0.0.1:8080/hook"), std::nullopt);
  EXPECT_TRUE(loopback.check("http://127.0.0.2:8080/hook"));
  UrlPolicy by_name = UrlPolicy::parse({"localhost"});
  EXPECT_EQ(by_name.check("http://LOCALHOST:8080/hook"), std::nullopt);
}

}  // namespace
}  // namespace tams::core
