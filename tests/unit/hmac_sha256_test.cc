// HmacSha256 and sha256_hex against RFC 4231 and FIPS 180-2 vectors (short key, key longer than
// the block, empty message), and from several threads at once (per-thread contexts).
#include "tams/media/hmac_sha256.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace {

using tams::media::HmacSha256;
using tams::media::sha256_hex;

TEST(HmacSha256, Rfc4231) {
  EXPECT_EQ(HmacSha256("Jefe").hex("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");  // case 2
  EXPECT_EQ(HmacSha256(std::string(131, '\xaa'))
                .hex("Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");  // case 6
}

TEST(HmacSha256, Sha256) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HmacSha256, SameResultFromManyThreads) {
  const HmacSha256 mac("Jefe");
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (mac.hex("what do ya want for nothing?") !=
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") {
          ++wrong[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
