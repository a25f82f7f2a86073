// SigV4 against the signatures AWS publishes (tests/unit/data/sigv4_signatures.txt), the S3
// presigned-URL example, and the encodings S3 object keys need.
#include "tams/media/s3/sigv4.h"

#include <gtest/gtest.h>

#include "data_table.h"
#include "tams/media/hmac_sha256.h"

namespace {

using tams::media::sha256_hex;
using tams::media::s3::amz_date;
using tams::media::s3::canonical_request;
using tams::media::s3::Credentials;
using tams::media::s3::Signer;
using tams::media::s3::SigningRequest;
using tams::media::s3::uri_encode;
using tams::testing::ReadTable;
using tams::testing::Row;
using tams::testing::Where;

std::vector<std::pair<std::string, std::string>> split_pairs(const std::string& text, char sep,
                                                             char kv) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t from = 0;
  while (from < text.size()) {
    size_t end = text.find(sep, from);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(from, end - from);
    const size_t eq = item.find(kv);
    out.emplace_back(item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1));
    from = end + 1;
  }
  return out;
}

TEST(SigV4, PublishedHeaderSignatures) {
  const std::string file = "sigv4_signatures.txt";
  const auto rows = ReadTable(file);
  ASSERT_GE(rows.size(), 9u);
  for (const Row& row : rows) {
    ASSERT_EQ(row.fields.size(), 12u) << Where(file, row);
    const auto& f = row.fields;
    Signer signer(Credentials{f[1], f[2]}, f[3], f[4]);
    SigningRequest request{f[6], f[7], split_pairs(f[8], '&', '='), split_pairs(f[9], '\n', ':'),
                           sha256_hex(f[10])};
    const std::string auth = signer.authorization(request, f[5]);
    EXPECT_EQ(auth.substr(auth.rfind('=') + 1), f[11]) << Where(file, row) << "\n"
                                                      << canonical_request(request);
    EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=" + f[1] + "/" + f[5].substr(0, 8) +
                                 "/" + f[3] + "/" + f[4] + "/aws4_request, SignedHeaders="))
        << auth;
  }
}

// Amazon S3 API reference, "Authenticating Requests: Using Query Parameters (AWS Signature
// Version 4)": GET /test.txt of examplebucket, 24 May 2013, valid 86400 s.
TEST(SigV4, PublishedS3PresignedUrl) {
  Signer signer(Credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                "us-east-1");
  const std::string query = signer.presign_query("GET", "examplebucket.s3.amazonaws.com",
                                                 "/test.txt", "20130524T000000Z", 86400);
  EXPECT_EQ(query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

// The presign fast path builds the same canonical request as the general form.
TEST(SigV4, PresignMatchesTheGeneralCanonicalRequest) {
  Signer signer(Credentials{"AK/with+odd=chars", "SK"}, "eu-west-1");
  const std::string path = "/bucket/dir/seg 1?#%.ts";
  const std::string query =
      signer.presign_query("PUT", "s3.example.com:9000", uri_encode(path, true), "20240101T000000Z", 600);
  SigningRequest general{"PUT", path,
                         {{"X-Amz-SignedHeaders", "host"},
                          {"X-Amz-Expires", "600"},
                          {"X-Amz-Date", "20240101T000000Z"},
                          {"X-Amz-Credential", "AK/with+odd=chars/20240101/eu-west-1/s3/aws4_request"},
                          {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"}},
                         {{"Host", "s3.example.com:9000"}},
                         "UNSIGNED-PAYLOAD"};
  const std::string expected = signer.signature("20240101T000000Z", canonical_request(general));
  EXPECT_EQ(query.substr(query.rfind('=') + 1), expected);
  EXPECT_NE(query.find("X-Amz-Credential=AK%2Fwith%2Bodd%3Dchars%2F20240101%2Feu-west-1%2Fs3%2Faws4_request"),
            std::string::npos) << query;
}

TEST(SigV4, UriEncodingOfObjectKeys) {
  EXPECT_EQ(uri_encode("a/b c+d", true), "a/b%20c%2Bd");
  EXPECT_EQ(uri_encode("a/b c+d", false), "a%2Fb%20c%2Bd");
  EXPECT_EQ(uri_encode("-._~AZaz09", false), "-._~AZaz09");
  EXPECT_EQ(uri_encode("?#%&=:@!$'()*,;[]", true), "%3F%23%25%26%3D%3A%40%21%24%27%28%29%2A%2C%3B%5B%5D");
  EXPECT_EQ(uri_encode(std::string("\x00\xff", 2), true), "%00%FF");
  EXPECT_EQ(uri_encode("\xE1\x88\xB4", true), "%E1%88%B4");
}

// S3 never normalises the path: "//", "." and ".." in a key are signed as they are.
TEST(SigV4, PathIsNotNormalised) {
  SigningRequest r{"GET", "/bucket/a//b/./c/../d", {}, {{"Host", "h"}}, "UNSIGNED-PAYLOAD"};
  EXPECT_EQ(canonical_request(r),
            "GET\n/bucket/a//b/./c/../d\n\nhost:h\n\nhost\nUNSIGNED-PAYLOAD");
}

TEST(SigV4, SigningKeyIsDerivedOncePerDay) {
  Signer signer(Credentials{"AK", "SK"}, "eu-west-1");
  for (int i = 0; i < 100; ++i) signer.presign_query("GET", "h", "/b/k", "20240101T000000Z", 60);
  EXPECT_EQ(signer.key_derivations(), 1u);
  signer.presign_query("GET", "h", "/b/k", "20240102T000000Z", 60);
  EXPECT_EQ(signer.key_derivations(), 2u);
  // A different day's signature differs, the same inputs sign the same.
  EXPECT_NE(signer.presign_query("GET", "h", "/b/k", "20240101T000000Z", 60),
            signer.presign_query("GET", "h", "/b/k", "20240102T000000Z", 60));
  EXPECT_EQ(signer.presign_query("PUT", "h", "/b/k", "20240101T000000Z", 60),
            signer.presign_query("PUT", "h", "/b/k", "20240101T000000Z", 60));
}

TEST(SigV4, AmzDate) {
  EXPECT_EQ(amz_date(0), "19700101T000000Z");
  EXPECT_EQ(amz_date(1440938160), "20150830T123600Z");
  Signer signer(Credentials{"AK", "SK"}, "r");
  EXPECT_THROW(signer.presign_query("GET", "h", "/", "2015-08-30", 60), std::invalid_argument);
}

}  // namespace
