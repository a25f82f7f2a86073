#include "tams/media/local_media_store.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tams/media/hmac_sha256.h"

namespace tams::media {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'750'000'000;

class LocalMediaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(::testing::TempDir()) / "tams-media-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    data_dir_ = pattern;
    store_ = LocalMediaStore::open(data_dir_.string());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(data_dir_);
  }

  // Uploads `content` for `id` and commits it.
  LocalMediaStore::CommitResult put(const std::string& id, const std::string& content,
                                    const std::string& type = "video/mp2t") {
    LocalUpload upload = store_->begin_upload(id);
    upload.write(content.data(), content.size());
    return store_->commit(std::move(upload), type);
  }

  // The whole content of an open object, read through its descriptor.
  static std::string read_all(const OpenObject& object) {
    std::string out(object.info.size, '\0');
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(object.file.get(), out.data() + done, out.size() - done,
                                static_cast<off_t>(done));
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    out.resize(done);
    return out;
  }

  // Every regular file under the data dir, relative to it.
  std::set<std::string> files() const {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(data_dir_)) {
      if (e.is_regular_file()) out.insert(fs::relative(e.path(), data_dir_).string());
    }
    return out;
  }

  fs::path data_dir_;
  std::unique_ptr<LocalMediaStore> store_;
};

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return to_hex(digest, length);
}

// ---------------------------------------------------------------------------------------------
// HMAC and signing.

TEST(HmacSha256Test, MatchesRfc4231TestCase2) {
  HmacSha256 hmac("Jefe");
  EXPECT_EQ(hmac.hex("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // The precomputed key state is reused, not consumed.
  EXPECT_EQ(hmac.hex("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(LocalMediaStoreTest, SignatureRoundTrip) {
  const std::string id = "3f1c0e8a-9c2b-4d7e-8a61-2b5f0d9e4c11";
  const std::string sig = store_->signature("PUT", id, kNow + 60);
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(store_->verify("PUT", id, std::to_string(kNow + 60), sig, kNow));
  EXPECT_TRUE(store_->verify("PUT", id, std::to_string(kNow + 60), sig, kNow + 60))
      << "valid up to and including the expiry second";
  const std::string get_sig = store_->signature("GET", id, kNow + 60);
  EXPECT_NE(get_sig, sig);
  EXPECT_TRUE(store_->verify("GET", id, std::to_string(kNow + 60), get_sig, kNow));
}

struct Tampering {
  const char* name;
  std::string method;
  std::string object_id;
  std::string expires;
  std::string signature;
  int64_t now;
};

TEST_F(LocalMediaStoreTest, TamperedOrExpiredUrlsAreRejected) {
  const std::string id = "flow/segment-0001.ts";
  const int64_t expires = kNow + 3600;
  const std::string e = std::to_string(expires);
  const std::string sig = store_->signature("PUT", id, expires);
  std::string flipped = sig;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  std::string upper = sig;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const Tampering cases[] = {
      {"wrong method", "GET", id, e, sig, kNow},
      {"unknown method", "DELETE", id, e, store_->signature("DELETE", id, expires), kNow},
      {"lowercase method", "put", id, e, sig, kNow},
      {"flipped signature digit", "PUT", id, e, flipped, kNow},
      {"uppercase signature", "PUT", id, e, upper == sig ? sig + "x" : upper, kNow},
      {"truncated signature", "PUT", id, e, sig.substr(0, 63), kNow},
      {"signature with extra", "PUT", id, e, sig + "0", kNow},
      {"empty signature", "PUT", id, e, "", kNow},
      {"other object id", "PUT", "flow/segment-0002.ts", e, sig, kNow},
      {"object id prefix", "PUT", "flow/segment-0001.t", e, sig, kNow},
      {"object id with NUL", "PUT", id + std::string(1, '\0'), e, sig, kNow},
      {"later expiry", "PUT", id, std::to_string(expires + 1), sig, kNow},
      {"earlier expiry", "PUT", id, std::to_string(expires - 1), sig, kNow},
      {"expiry with leading zero", "PUT", id, "0" + e, sig, kNow},
      {"expiry with plus", "PUT", id, "+" + e, sig, kNow},
      {"negative expiry", "PUT", id, "-" + e, sig, kNow},
      {"non-numeric expiry", "PUT", id, "tomorrow", sig, kNow},
      {"empty expiry", "PUT", id, "", sig, kNow},
      {"expiry with junk", "PUT", id, e + "x", sig, kNow},
      {"huge expiry", "PUT", id, "99999999999999999999999", sig, kNow},
      {"expired by a second", "PUT", id, e, sig, expires + 1},
      {"expired long ago", "PUT", id, e, sig, expires + 86400},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(store_->verify(c.method, c.object_id, c.expires, c.signature, c.now)) << c.name;
  }
}

TEST_F(LocalMediaStoreTest, SignedUrlsEncodeTheIdAndCarryMethodExpiryAndSignature) {
  const std::string sig = store_->signature("GET", "a/b c", 123);
  EXPECT_EQ(store_->signed_url("http://h:1/", "GET", "a/b c", 123),
            "http://h:1/media/a%2Fb%20c?method=GET&expires=123&signature=" + sig);
  EXPECT_EQ(store_->signed_url("http://h:1", "PUT", "x", 5)
                .rfind("http://h:1/media/x?method=PUT&expires=5&", 0),
            0u);
  // Ids that are dot-segments keep their dots escaped, so clients do not remove them.
  EXPECT_NE(store_->signed_url("http://h", "GET", "..", 1).find("/media/%2E%2E?"),
            std::string::npos);
  EXPECT_NE(store_->signed_url("http://h", "GET", "a..b", 1).find("/media/a..b?"),
            std::string::npos);
  EXPECT_NE(store_->signed_url("http://h", "GET", "../x", 1).find("/media/..%2Fx?"),
            std::string::npos);
}

TEST_F(LocalMediaStoreTest, PutAndGetUrlsExpireAfterTheConfiguredTime) {
  store_.reset();
  LocalMediaOptions options;
  options.url_expiry_seconds = 120;
  store_ = LocalMediaStore::open(data_dir_.string(), options);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (const std::string& url :
       {store_->put_url("http://h", "o"), store_->get_url("http://h", "o")}) {
    const size_t at = url.find("expires=") + 8;
    const int64_t expires = std::stoll(url.substr(at, url.find('&', at) - at));
    EXPECT_GE(expires, now + 119) << url;
    EXPECT_LE(expires, now + 122) << url;
  }
  EXPECT_NE(store_->put_url("http://h", "o").find("method=PUT"), std::string::npos);
  EXPECT_NE(store_->get_url("http://h", "o").find("method=GET"), std::string::npos);
}

TEST_F(LocalMediaStoreTest, SecretAndBackendIdPersistAcrossReopen) {
  const std::string sig = store_->signature("GET", "o", kNow);
  const StorageBackend first = store_->backend();
  store_.reset();
  store_ = LocalMediaStore::open(data_dir_.string());
  EXPECT_EQ(store_->signature("GET", "o", kNow), sig);
  EXPECT_EQ(store_->backend().id, first.id);

  const fs::path secret = data_dir_ / "media" / "secret";
  EXPECT_EQ(fs::file_size(secret), 32u);
  struct stat st;
  ASSERT_EQ(::stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string id_line;
  std::ifstream(data_dir_ / "media" / "backend-id") >> id_line;
  EXPECT_EQ(id_line, first.id);
  ASSERT_EQ(first.id.size(), 36u);
  EXPECT_EQ(first.id[14], '4') << "a version 4 UUID";
  EXPECT_NE(std::string("89ab").find(first.id[19]), std::string::npos);

  // Another data dir: another secret and id.
  std::string other_dir = (fs::path(::testing::TempDir()) / "tams-media-XXXXXX").string();
  ASSERT_NE(::mkdtemp(other_dir.data()), nullptr);
  auto other = LocalMediaStore::open(other_dir);
  EXPECT_NE(other->signature("GET", "o", kNow), sig);
  EXPECT_NE(other->backend().id, first.id);
  fs::remove_all(other_dir);
}

TEST_F(LocalMediaStoreTest, BackendDescribesTheLocalStore) {
  const StorageBackend& b = store_->backend();
  EXPECT_EQ(b.store_type, "http_object_store");
  EXPECT_EQ(b.provider, "tams");
  EXPECT_EQ(b.store_product, "tams local media store");
  EXPECT_EQ(b.label, "local");
  EXPECT_TRUE(b.default_storage);
}

TEST_F(LocalMediaStoreTest, CorruptSecretRefusesToOpen) {
  store_.reset();
  std::ofstream(data_dir_ / "media" / "secret", std::ios::trunc) << "short";
  EXPECT_THROW(LocalMediaStore::open(data_dir_.string()), std::runtime_error);
}

TEST_F(LocalMediaStoreTest, SigningThroughput) {
  // A measurement for the record, not an assertion.
  constexpr int kSignatures = 200000;
  const auto start = std::chrono::steady_clock::now();
  size_t checksum = 0;
  for (int i = 0; i < kSignatures; ++i) {
    checksum += store_->signature("GET", "3f1c0e8a-9c2b-4d7e-8a61-2b5f0d9e4c11", kNow + i)[0];
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double per_second = kSignatures / seconds;
  std::cout << "[ MEASURE  ] " << static_cast<int64_t>(per_second)
            << " URL signatures/s on one thread (" << seconds * 1e6 / kSignatures << " us each)"
            << std::endl;
  RecordProperty("signatures_per_second", static_cast<int>(per_second));
  EXPECT_GT(checksum, 0u);
}

// ---------------------------------------------------------------------------------------------
// Paths.

TEST_F(LocalMediaStoreTest, RecordPathsStayInsideTheObjectsDirectory) {
  const std::string nul_id = std::string("a\0/../../b", 10);
  const std::vector<std::string> ids = {"../../etc/passwd",
                                        "a/../../b",
                                        "%2e%2e/x",
                                        "%2E%2E%2Fx",
                                        "/abs",
                                        "/",
                                        "a\\..\\b",
                                        "..",
                                        ".",
                                        "",
                                        nul_id,
                                        std::string(1, '\0'),
                                        "a/b/c",
                                        std::string(100000, 'x'),
                                        std::string(300, '/') + "etc",
                                        "..%00/x",
                                        "\xff\xfe",
                                        "C:\\Windows"};
  std::set<std::string> seen;
  const fs::path objects = fs::weakly_canonical(store_->objects_dir());
  for (const auto& id : ids) {
    SCOPED_TRACE(id.substr(0, 40));
    const fs::path p = store_->record_path(id);
    const fs::path normal = p.lexically_normal();
    EXPECT_EQ(normal, p) << "no . or .. or // in the path";
    EXPECT_EQ(normal.parent_path().parent_path(), store_->objects_dir());
    const std::string hash = sha256_hex(id);
    EXPECT_EQ(normal.filename().string(), hash + ".json");
    EXPECT_EQ(normal.parent_path().filename().string(), hash.substr(0, 2));
    EXPECT_TRUE(seen.insert(p.string()).second) << "distinct ids map to distinct paths";
  }
}

TEST_F(LocalMediaStoreTest, TraversalIdsAreStoredInsideTheObjectsDirectory) {
  const std::vector<std::string> ids = {"../../etc/passwd",
                                        "a/../../b",
                                        "%2e%2e/x",
                                        "/abs",
                                        "a\\..\\b",
                                        std::string("x\0y", 3),
                                        "..",
                                        std::string(5000, '.')};
  for (size_t i = 0; i < ids.size(); ++i) put(ids[i], "content " + std::to_string(i));
  for (const auto& f : files()) {
    const bool known = f == "media/secret" || f == "media/backend-id";
    EXPECT_TRUE(known || f.starts_with("media/objects/")) << f;
    EXPECT_EQ(f.find(".."), std::string::npos) << f;
  }
  EXPECT_EQ(files().size(), 2 + 2 * ids.size()) << "a record and a bytes file per object";
  for (size_t i = 0; i < ids.size(); ++i) {
    auto object = store_->open_object(ids[i]);
    ASSERT_TRUE(object) << i;
    EXPECT_EQ(object->info.object_id, ids[i]);
    EXPECT_EQ(read_all(*object), "content " + std::to_string(i));
  }
  EXPECT_FALSE(fs::exists(data_dir_.parent_path() / "etc"));
}

// ---------------------------------------------------------------------------------------------
// Uploads, commits, removal.

TEST_F(LocalMediaStoreTest, CommitRecordsSizeTypeAndEtag) {
  const std::string content = "0123456789abcdef";
  auto result = put("obj", content, "video/mp4");
  EXPECT_FALSE(result.replaced);
  EXPECT_EQ(result.info.object_id, "obj");
  EXPECT_EQ(result.info.size, content.size());
  EXPECT_EQ(result.info.content_type, "video/mp4");
  EXPECT_EQ(result.info.etag, "\"" + sha256_hex(content).substr(0, 32) + "\"");
  EXPECT_TRUE(store_->exists("obj"));
  auto object = store_->open_object("obj");
  ASSERT_TRUE(object);
  EXPECT_EQ(object->info.etag, result.info.etag);
  EXPECT_EQ(object->info.content_type, "video/mp4");
  EXPECT_EQ(read_all(*object), content);
}

TEST_F(LocalMediaStoreTest, EmptyObject) {
  auto result = put("empty", "");
  EXPECT_EQ(result.info.size, 0u);
  auto object = store_->open_object("empty");
  ASSERT_TRUE(object);
  EXPECT_EQ(read_all(*object), "");
}

TEST_F(LocalMediaStoreTest, UploadsAreInvisibleUntilCommitted) {
  LocalUpload upload = store_->begin_upload("obj");
  const std::string chunk(100000, 'z');
  for (int i = 0; i < 10; ++i) upload.write(chunk.data(), chunk.size());
  EXPECT_FALSE(store_->exists("obj"));
  EXPECT_FALSE(store_->open_object("obj"));
  for (const auto& f : files()) EXPECT_FALSE(f.starts_with("media/objects/")) << f;
  EXPECT_EQ(std::distance(fs::directory_iterator(store_->temp_dir()), fs::directory_iterator()), 1);
  store_->commit(std::move(upload), "application/octet-stream");
  EXPECT_TRUE(store_->exists("obj"));
  EXPECT_TRUE(fs::is_empty(store_->temp_dir())) << "nothing left in tmp after a commit";
  EXPECT_EQ(store_->open_object("obj")->info.size, 1000000u);
}

TEST_F(LocalMediaStoreTest, AbandonedUploadLeavesNothing) {
  {
    LocalUpload upload = store_->begin_upload("obj");
    upload.write("partial", 7);
  }  // the connection went away
  EXPECT_FALSE(store_->exists("obj"));
  EXPECT_TRUE(fs::is_empty(store_->temp_dir()));
  EXPECT_EQ(files().size(), 2u);
}

TEST_F(LocalMediaStoreTest, UploadBeyondTheLimitThrows) {
  store_.reset();
  LocalMediaOptions options;
  options.max_object_bytes = 10;
  store_ = LocalMediaStore::open(data_dir_.string(), options);
  LocalUpload upload = store_->begin_upload("obj");
  upload.write("0123456789", 10);
  EXPECT_THROW(upload.write("x", 1), std::length_error);
}

TEST_F(LocalMediaStoreTest, ReplacingAnObjectKeepsOneBytesFile) {
  put("obj", "first version", "text/plain");
  auto result = put("obj", "second", "application/json");
  EXPECT_TRUE(result.replaced);
  auto object = store_->open_object("obj");
  ASSERT_TRUE(object);
  EXPECT_EQ(read_all(*object), "second");
  EXPECT_EQ(object->info.content_type, "application/json");
  EXPECT_EQ(files().size(), 4u) << "secret, backend-id, one record, one bytes file";
}

TEST_F(LocalMediaStoreTest, OpenObjectKeepsReadingTheBytesItOpened) {
  put("obj", "old bytes");
  auto before = store_->open_object("obj");
  ASSERT_TRUE(before);
  put("obj", "new bytes!");
  store_->remove("obj");
  EXPECT_EQ(read_all(*before), "old bytes");
}

TEST_F(LocalMediaStoreTest, ReadersNeverSeeATornObjectDuringReplacement) {
  const std::string a(50000, 'a');
  const std::string b(70000, 'b');
  put("obj", a);
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!stop) {
      auto object = store_->open_object("obj");
      if (!object) {
        ++torn;
        continue;
      }
      const std::string content = read_all(*object);
      const bool consistent = (content == a || content == b) &&
                              object->info.etag == "\"" + sha256_hex(content).substr(0, 32) + "\"";
      if (!consistent) ++torn;
      ++reads;
    }
  });
  for (int i = 0; i < 40; ++i) put("obj", i % 2 ? a : b);
  stop = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(files().size(), 4u);
}

TEST_F(LocalMediaStoreTest, RemoveDeletesRecordAndBytes) {
  put("obj", "bytes");
  put("other", "more");
  store_->remove("obj");
  EXPECT_FALSE(store_->exists("obj"));
  EXPECT_FALSE(store_->open_object("obj"));
  EXPECT_TRUE(store_->exists("other"));
  EXPECT_EQ(files().size(), 4u);
  EXPECT_NO_THROW(store_->remove("obj"));
  EXPECT_NO_THROW(store_->remove("never-existed"));
}

TEST_F(LocalMediaStoreTest, ReopenSweepsAbandonedTemporaryFilesOnly) {
  const fs::path old_file = store_->temp_dir() / "crashed.upload";
  const fs::path recent_file = store_->temp_dir() / "in-progress.upload";
  std::ofstream(old_file) << "x";
  std::ofstream(recent_file) << "y";
  fs::last_write_time(old_file, fs::file_time_type::clock::now() - std::chrono::hours(2));
  store_.reset();
  store_ = LocalMediaStore::open(data_dir_.string());
  EXPECT_FALSE(fs::exists(old_file));
  EXPECT_TRUE(fs::exists(recent_file));
}

}  // namespace
}  // namespace tams::media
