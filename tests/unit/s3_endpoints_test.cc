// EndpointSet: rotation over healthy endpoints, skipping and re-admitting; endpoint parsing.
#include "tams/media/s3/endpoints.h"

#include <gtest/gtest.h>

#include <map>

namespace {

using tams::media::s3::Endpoint;
using tams::media::s3::EndpointSet;
using tams::media::s3::parse_endpoint;

EndpointSet three() {
  return EndpointSet("test", {parse_endpoint("http://a:1"), parse_endpoint("http://b:2"),
                              parse_endpoint("https://c/prefix/")});
}

std::map<size_t, int> picks(const EndpointSet& set, int n) {
  std::map<size_t, int> count;
  for (int i = 0; i < n; ++i) {
    if (auto e = set.next_healthy()) ++count[*e];
  }
  return count;
}

TEST(S3Endpoints, Parse) {
  const Endpoint e = parse_endpoint("https://s3.example.com:9000/base/");
  EXPECT_EQ(e.scheme, "https");
  EXPECT_EQ(e.authority, "s3.example.com:9000");
  EXPECT_EQ(e.base_path, "/base");
  EXPECT_EQ(parse_endpoint("http://[::1]:7480").authority, "[::1]:7480");
  EXPECT_EQ(parse_endpoint("http://h").base_path, "");
  for (const char* bad : {"ftp://h", "http://u:p@h", "http://h/?q", "http://h/#f", "h:80", ""}) {
    EXPECT_THROW(parse_endpoint(bad), std::invalid_argument) << bad;
  }
}

TEST(S3Endpoints, SpreadsOverAllWhenHealthy) {
  const EndpointSet set = three();
  EXPECT_EQ(picks(set, 300), (std::map<size_t, int>{{0, 100}, {1, 100}, {2, 100}}));
}

TEST(S3Endpoints, SkipsUnhealthyAndReadmits) {
  const EndpointSet set = three();
  set.set_healthy(1, false, "refused");
  const auto without = picks(set, 300);
  EXPECT_EQ(without.count(1), 0u);
  EXPECT_EQ(without.at(0) + without.at(2), 300);
  EXPECT_EQ(set.healthy_in_rotation().size(), 2u);
  set.set_healthy(1, true);
  EXPECT_EQ(picks(set, 300).at(1), 100);
}

TEST(S3Endpoints, NoneHealthy) {
  const EndpointSet set = three();
  for (size_t i = 0; i < 3; ++i) set.set_healthy(i, false, "down");
  EXPECT_FALSE(set.any_healthy());
  EXPECT_FALSE(set.next_healthy().has_value());
  EXPECT_TRUE(set.healthy_in_rotation().empty());
  EXPECT_LT(set.next_any(), 3u);
}

TEST(S3Endpoints, NeedsOne) { EXPECT_THROW(EndpointSet("x", {}), std::invalid_argument); }

}  // namespace
