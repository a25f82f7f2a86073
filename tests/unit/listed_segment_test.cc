// A segment as a listing writes it: the stored text with get_urls spliced in, or the parsed
// document when the client gave URLs.
#include "tams/core/listed_segment.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace tams::core {
namespace {

namespace bj = boost::json;

const std::string kFlow = "00000000-0000-4000-8000-00000000000a";
const std::string kObject = "o";

store::SegmentRecord listed(std::string doc_json) {
  return store::SegmentRecord{kFlow, 0, 1'000'000'000, kObject, {}, std::move(doc_json), {}};
}

// The segment as append_listed_segment writes it.
std::string write(std::string doc_json, const GetUrlsFilter& filter = {}) {
  media::Backends none;
  store::SegmentRecord s = listed(std::move(doc_json));
  std::string out;
  append_listed_segment(out, s, none, filter, "http://tams.test");
  return out;
}

TEST(ListedSegment, SplicesGetUrlsIntoTheStoredText) {
  // Byte for byte the stored text: member order and spelling are kept.
  const std::string out = write(R"j({"object_id":"o","timerange":"[0:0_1:0)"})j");
  EXPECT_EQ(out, R"j({"object_id":"o","timerange":"[0:0_1:0)","get_urls":[]})j");
}

TEST(ListedSegment, EmptyObjectAndWhitespace) {
  EXPECT_EQ(write("{}"), R"j({"get_urls":[]})j");
  EXPECT_EQ(write(" { } "), R"j({"get_urls":[]})j");
  const std::string out = write("{ \"object_id\" : \"o\" }\n");
  EXPECT_EQ(bj::parse(out), bj::parse(R"j({"object_id": "o", "get_urls": []})j"));
}

TEST(ListedSegment, ClientUrlsAreReshapedAndFiltered) {
  const std::string doc =
      R"j({"object_id":"o","timerange":"[0:0_1:0)","get_urls":[{"url":"http://x/o","label":"x"}]})j";
  const std::string out = write(doc);
  EXPECT_EQ(bj::parse(out), bj::parse(R"j({"object_id":"o","timerange":"[0:0_1:0)",
      "get_urls":[{"url":"http://x/o","presigned":false,"label":"x"}]})j"));
  GetUrlsFilter only_presigned;
  only_presigned.presigned = true;
  EXPECT_EQ(bj::parse(write(doc, only_presigned)),
            bj::parse(R"j({"object_id":"o","timerange":"[0:0_1:0)","get_urls":[]})j"));
}

TEST(ListedSegment, GetUrlsInsideAStringIsOnlyAFalseAlarm) {
  const std::string doc = R"j({"object_id":"a\"get_urls","timerange":"[0:0_1:0)"})j";
  const std::string out = write(doc);
  EXPECT_EQ(bj::parse(out),
            bj::parse(R"j({"object_id":"a\"get_urls","timerange":"[0:0_1:0)","get_urls":[]})j"));
}

TEST(ListedSegment, TimerangeComesFromTheDocument) {
  EXPECT_EQ(listed_timerange(listed(R"j({"timerange":"[0:0_1:0]"})j")).to_string(), "[0:0_1:0]");
  EXPECT_EQ(listed_timerange(listed(R"j({"object_id":"o"})j")).to_string(), "[0:0_1:0)");
  store::SegmentRecord parsed = listed("");
  parsed.doc = bj::object{{"timerange", "(0:0_1:0)"}};
  EXPECT_EQ(listed_timerange(parsed).to_string(), "(0:0_1:0)");
}

}  // namespace
}  // namespace tams::core
