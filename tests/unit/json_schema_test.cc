// Tests for tams::json::SchemaSet (JSON Schema validation against the TAMS 7.0 schemas) and the
// RFC 3339 date-time check it uses.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tams/json/date_time.h"
#include "tams/json/embedded_schemas.h"
#include "tams/json/schema.h"

namespace tams::json {
namespace {

namespace bj = boost::json;

const SchemaSet& spec() { return SchemaSet::spec(); }

std::optional<std::string> validate(std::string_view schema, std::string_view json) {
  return spec().validate(schema, bj::parse(json));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr const char* kUuidPattern =
    "^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";
constexpr const char* kTimeRangePattern =
    "^(\\[|\\()?(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?(_(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?"
    ")?(\\]|\\))?$";
constexpr const char* kTimestampPattern = "^-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8})$";

// ---------------------------------------------------------------------------------------------
// Every example of the OpenAPI document validates against the schema it is paired with there,
// except two spec errata. The pairs come from api/TimeAddressableMediaStore.yaml; the example
// files are copied verbatim into tests/unit/data/spec_examples.

struct ExamplePair {
  const char* example;  // file in tests/unit/data/spec_examples
  const char* schema;
  bool array_of;  // the OpenAPI schema is `type: array, items: $ref schema`
  // Set for an example that breaks its own schema: the exact error we give instead.
  const char* erratum = nullptr;
};

// Two 7.0 flow examples carry "created": "2023-12-14T16:34:58.131620", which has no UTC offset
// and so is not an RFC 3339 date-time (flow-core.json says "format": "date-time"). We keep the
// format strict (our server always writes offsets) rather than accept local times of unknown
// zone; these are response examples, which a server, not a client, produces.
constexpr const char* kCreatedWithoutOffset =
    R"(created: must be an RFC 3339 date-time (got "2023-12-14T16:34:58.131620"))";

const ExamplePair kExamplePairs[] = {
    {"service-get-200.json", "service.json", false},
    {"service-post.json", "service-post.json", false},
    {"storage-backends-get-200.json", "storage-backends-list.json", false},
    {"sources-get-200.json", "source.json", true},
    {"source-get-200-basic.json", "source.json", false},
    {"source-get-200-multi.json", "source.json", false},
    {"flows-get-200.json", "flow.json", true},
    {"flow-get-200-video-h264.json", "flow.json", false},
    {"flow-get-200-audio-aac.json", "flow.json", false},
    {"flow-get-200-video-raw.json", "flow.json", false},
    {"flow-get-200-image-jpeg.json", "flow.json", false},
    {"flow-get-200-data-ttml.json", "flow.json", false, kCreatedWithoutOffset},
    {"flow-get-200-multi.json", "flow.json", false, kCreatedWithoutOffset},
    {"flow-get-200-multi-container-map.json", "flow.json", false},
    {"flow-get-200-audio-aac-multi.json", "flow.json", false},
    {"flow-put.json", "flow.json", false},
    {"flow-put-multi.json", "flow.json", false},
    {"flow-put-201.json", "flow.json", false},
    {"deletion-request-get-200.json", "deletion-request.json", false},
    {"flow-tags-get-200.json", "tags.json", false},
    {"flow-collection-get-200.json", "flow-collection.json", false},
    {"flow-collection-put.json", "flow-collection.json", false},
    {"flow-segments-get-200.json", "flow-segment.json", true},
    {"flow-segments-get-200-sample-offset.json", "flow-segment.json", true},
    {"flow-segments-get-200-multiple-urls.json", "flow-segment.json", true},
    // The request schema is oneOf [flow-segment-post.json, array of it]; the example is a single.
    {"flow-segment-post.json", "flow-segment-post.json", false},
    {"flow-segment-partial-failure.json", "flow-segment-bulk-failure.json", false},
    {"flow-storage-post.json", "flow-storage-post.json", false},
    {"flow-storage-post-object_ids.json", "flow-storage-post.json", false},
    {"flow-storage-post-201.json", "flow-storage.json", false},
    {"objects-get-200.json", "object.json", false},
    {"deletion-requests-get-200.json", "deletion-requests-list.json", false},
};

class SpecExampleTest : public testing::TestWithParam<ExamplePair> {};

TEST_P(SpecExampleTest, Validates) {
  const ExamplePair& pair = GetParam();
  bj::value doc =
      bj::parse(read_file(std::string(TAMS_TEST_DATA_DIR) + "/spec_examples/" + pair.example));
  if (!pair.array_of) {
    std::optional<std::string> expected;
    if (pair.erratum != nullptr) expected = pair.erratum;
    EXPECT_EQ(spec().validate(pair.schema, doc), expected);
    if (pair.erratum == kCreatedWithoutOffset) {
      // Apart from the erratum the example is valid.
      bj::value& created = doc.as_object()["created"];
      created = std::string(created.as_string()) + "Z";
      EXPECT_EQ(spec().validate(pair.schema, doc), std::nullopt);
    }
    return;
  }
  ASSERT_TRUE(doc.is_array());
  ASSERT_FALSE(doc.get_array().empty());
  for (const bj::value& item : doc.get_array()) {
    EXPECT_EQ(spec().validate(pair.schema, item), std::nullopt) << bj::serialize(item);
  }
}

std::string example_test_name(const testing::TestParamInfo<ExamplePair>& info) {
  std::string name = info.param.example;
  name.resize(name.size() - 5);  // ".json"
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(OpenApiExamples, SpecExampleTest, testing::ValuesIn(kExamplePairs),
                         example_test_name);

TEST(SpecExamples, TableCoversEveryExampleFile) {
  // 32 files in api/examples at TAMS 7.0; a new one must be paired above.
  EXPECT_EQ(std::size(kExamplePairs), 32u);
}

// Examples written inline in the OpenAPI document rather than in api/examples.
TEST(SpecExamples, InlineWebhookExamples) {
  // GET /service/webhooks: array of webhook.json.
  bj::value list = bj::parse(R"([{"url": "https://hook.example.com",
      "api_key_name": "Authorization",
      "events": ["flows/created", "flows/updated", "flows/deleted"]}])");
  for (const bj::value& item : list.get_array()) {
    EXPECT_EQ(spec().validate("webhook.json", item), std::nullopt);
  }
  // POST /service/webhooks: webhook-post.json.
  EXPECT_EQ(validate("webhook-post.json", R"({"url": "https://hook.example.com",
      "api_key_name": "Authorization", "api_key_value": "Bearer 21238dksdjqwpqscj9",
      "events": ["flows/created", "flows/updated"]})"),
            std::nullopt);
}

TEST(SpecExamples, InlineSourceTagsExample) {
  EXPECT_EQ(validate("tags.json", R"({"ingested_by": "ingest_service_api"})"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Table-driven cases against the spec schemas: a document and the exact expected result.

constexpr const char* kVideoFlow = R"({
  "id": "4f79cfd1-c057-47f4-8e4d-1b126ca7bf34",
  "source_id": "0fde9c11-da9d-434a-a113-d3b20a2cf251",
  "format": "urn:x-nmos:format:video",
  "codec": "video/h264",
  "essence_parameters": {"frame_width": 1920, "frame_height": 1080}
})";

// kVideoFlow with `extra` spliced in as additional top-level members.
std::string video_flow_with(const std::string& extra) {
  std::string body = kVideoFlow;
  body.insert(body.find('{') + 1, extra + ",");
  return body;
}

// A video flow whose essence_parameters are `params` (a JSON object body without braces).
std::string video_flow_params(const std::string& params) {
  return R"({"id": "4f79cfd1-c057-47f4-8e4d-1b126ca7bf34",
    "source_id": "0fde9c11-da9d-434a-a113-d3b20a2cf251",
    "format": "urn:x-nmos:format:video", "codec": "video/h264",
    "essence_parameters": {)" +
         params + "}}";
}

struct Case {
  const char* name;
  const char* schema;
  std::string json;
  std::optional<std::string> expected;  // nullopt: valid
};

std::vector<Case> spec_cases() {
  const std::string kFlowIds = R"("id": "4f79cfd1-c057-47f4-8e4d-1b126ca7bf34",
      "source_id": "0fde9c11-da9d-434a-a113-d3b20a2cf251")";
  const std::string uuid_rule = std::string("must match pattern ") + kUuidPattern;
  const std::string timerange_rule =
      std::string("must be a TimeRange matching ") + kTimeRangePattern;
  return {
      // Types.
      {"VideoFlowValid", "flow.json", kVideoFlow, std::nullopt},
      {"VideoFlowValidAgainstFlowVideo", "flow-video.json", kVideoFlow, std::nullopt},
      {"LabelNotString", "flow.json", video_flow_with(R"("label": 5)"), "label: must be a string"},
      {"RootNotObject", "flow.json", "[]", "(root): must be an object"},
      {"RootNullForTags", "tags.json", "null", "(root): must be an object"},
      {"ReadOnlyNotBoolean", "flow.json", video_flow_with(R"("read_only": "true")"),
       "read_only: must be a boolean"},
      {"FrameWidthString", "flow.json", video_flow_params(R"("frame_width": "1920",
       "frame_height": 1080)"),
       "essence_parameters.frame_width: must be an integer"},
      {"FrameWidthFraction", "flow.json", video_flow_params(R"("frame_width": 1920.5,
       "frame_height": 1080)"),
       "essence_parameters.frame_width: must be an integer"},
      {"FrameWidthIntegralDoubleOk", "flow.json",
       video_flow_params(R"("frame_width": 1920.0, "frame_height": 1080)"), std::nullopt},
      {"TagValueNotString", "flow.json", video_flow_with(R"("tags": {"genre": ["news"]})"),
       "tags.genre: must be a string"},
      {"TagKeyWithDotIsQuoted", "tags.json", R"({"a.b": 1})", R"(["a.b"]: must be a string)"},
      {"TagKeyWithNewlineStaysOneLine", "tags.json", R"({"a\nb": 1})",
       R"(["a\nb"]: must be a string)"},
      {"WebhookEventsNotArray", "webhook-post.json",
       R"({"url": "https://hook.example.com", "events": "flows/created"})",
       "events: must be an array"},
      {"WebhookEventItemNotString", "webhook-post.json",
       R"({"url": "https://hook.example.com", "events": ["flows/created", 7]})",
       "events[1]: must be a string"},
      {"WebhookPresignedNotBoolean", "webhook-post.json",
       R"({"url": "u", "events": [], "presigned": "yes"})", "presigned: must be a boolean"},
      {"FlowStorageLimitString", "flow-storage-post.json", R"({"limit": "50"})",
       "limit: must be an integer"},
      {"ServiceEventStreamNameMissing", "service.json",
       R"({"type": "urn:x-tams:service.example", "api_version": "7.0",
           "event_stream_mechanisms": [{"name": "webhooks"}, {"docs": "x"}]})",
       R"(event_stream_mechanisms[1]: missing required property "name")"},

      // Required.
      {"MissingSourceId", "flow.json",
       R"({"id": "4f79cfd1-c057-47f4-8e4d-1b126ca7bf34", "format": "urn:x-nmos:format:video",
           "codec": "video/h264", "essence_parameters": {"frame_width": 1, "frame_height": 1}})",
       R"((root): missing required property "source_id")"},
      {"MissingCodec", "flow.json", "{" + kFlowIds + R"(, "format": "urn:x-nmos:format:video",
           "essence_parameters": {"frame_width": 1, "frame_height": 1}})",
       R"((root): missing required property "codec")"},
      {"MultiFlowNeedsNoCodec", "flow.json",
       "{" + kFlowIds + R"(, "format": "urn:x-nmos:format:multi"})", std::nullopt},
      {"MissingFrameHeight", "flow.json", video_flow_params(R"("frame_width": 1920)"),
       R"(essence_parameters: missing required property "frame_height")"},
      {"WebhookMissingEvents", "webhook-post.json", R"({"url": "https://hook.example.com"})",
       R"((root): missing required property "events")"},
      {"WebhookMissingUrl", "webhook.json", R"({"events": []})",
       R"((root): missing required property "url")"},
      {"StorageBackendMissingId", "storage-backends-list.json",
       R"([{"store_type": "http_object_store", "provider": "p", "store_product": "s"}])",
       R"([0]: missing required property "id")"},
      {"CollectionItemMissingRole", "flow-collection.json",
       R"([{"id": "4f79cfd1-c057-47f4-8e4d-1b126ca7bf34", "role": "a"},
           {"id": "0fde9c11-da9d-434a-a113-d3b20a2cf251"}])",
       R"([1]: missing required property "role")"},
      {"ErrorMissingTime", "deletion-request.json",
       R"({"id": "9f0187c1-419c-44d2-8269-e869ba409462",
           "flow_id": "d14c70ad-6c59-4092-b51f-b75f6edf04e3", "timerange_to_delete": "_",
           "delete_flow": true, "status": "error",
           "error": {"type": "t", "summary": "s"}})",
       R"(error: missing required property "time")"},
      {"SegmentMissingTimerange", "flow-segment-post.json", R"({"object_id": "a"})",
       R"((root): missing required property "timerange")"},
      {"GetUrlMissingUrl", "flow-segment.json",
       R"({"object_id": "a", "timerange": "[0:0_1:0]", "get_urls": [{"label": "x"}]})",
       R"(get_urls[0]: missing required property "url")"},

      // UUID patterns.
      {"UuidUpperCase", "flow.json",
       R"({"id": "4F79CFD1-C057-47F4-8E4D-1B126CA7BF34",
           "source_id": "0fde9c11-da9d-434a-a113-d3b20a2cf251",
           "format": "urn:x-nmos:format:multi"})",
       "id: " + uuid_rule + R"( (got "4F79CFD1-C057-47F4-8E4D-1B126CA7BF34"))"},
      {"UuidVersion7", "flow.json",
       R"({"id": "01890a5d-ac96-774b-bcce-b302099a8057",
           "source_id": "0fde9c11-da9d-434a-a113-d3b20a2cf251",
           "format": "urn:x-nmos:format:multi"})",
       "id: " + uuid_rule + R"( (got "01890a5d-ac96-774b-bcce-b302099a8057"))"},
      {"UuidBadVariant", "source.json",
       R"({"id": "4f79cfd1-c057-47f4-ce4d-1b126ca7bf34", "format": "urn:x-nmos:format:video"})",
       "id: " + uuid_rule + R"( (got "4f79cfd1-c057-47f4-ce4d-1b126ca7bf34"))"},
      {"UuidTooShort", "object.json", R"({"id": "o", "referenced_by_flows": ["4f79cfd1"]})",
       "referenced_by_flows[0]: " + uuid_rule + R"( (got "4f79cfd1"))"},
      {"UuidWithTrailingText", "webhook-post.json",
       R"({"url": "u", "events": [],
           "flow_ids": ["4f79cfd1-c057-47f4-8e4d-1b126ca7bf34x"]})",
       "flow_ids[0]: " + uuid_rule + R"( (got "4f79cfd1-c057-47f4-8e4d-1b126ca7bf34x"))"},
      {"FlowCollectionMemberBadId", "flow.json",
       "{" + kFlowIds + R"(, "format": "urn:x-nmos:format:multi", "flow_collection": [
           {"id": "32b75860-83e5-48c9-8d6b-de46bdbc7f80", "role": "video"},
           {"id": "94996f2e-0cb5-43d3-ab6c-db5a9cf667aa", "role": "L"},
           {"id": "not-a-uuid", "role": "R"}]})",
       "flow_collection[2].id: " + uuid_rule + R"( (got "not-a-uuid"))"},
      {"StorageIdInGetUrlsBad", "flow-segment.json",
       R"({"object_id": "a", "timerange": "[0:0_1:0]",
           "get_urls": [{"url": "u", "storage_id": "x"}]})",
       "get_urls[0].storage_id: " + uuid_rule + R"( (got "x"))"},

      // Other patterns.
      {"TimerangeBadSeparator", "flow-segment-post.json",
       R"j({"object_id": "a", "timerange": "[0:0-10:0)"})j",
       "timerange: " + timerange_rule + R"j( (got "[0:0-10:0)"))j"},
      {"TimerangeTooManyNanoDigits", "flow-segment-post.json",
       R"j({"object_id": "a", "timerange": "[0:1000000000_1:0)"})j",
       "timerange: " + timerange_rule + R"j( (got "[0:1000000000_1:0)"))j"},
      {"TimerangeLeadingZero", "deletion-request.json",
       R"({"id": "9f0187c1-419c-44d2-8269-e869ba409462",
           "flow_id": "d14c70ad-6c59-4092-b51f-b75f6edf04e3", "timerange_to_delete": "[01:0_",
           "delete_flow": true, "status": "done"})",
       "timerange_to_delete: " + timerange_rule + R"( (got "[01:0_"))"},
      {"TimerangeForms", "flow-segment-post.json", R"({"object_id": "a", "timerange": "(5:0_"})",
       std::nullopt},
      {"TimerangeEmptyString", "flow-segment-post.json", R"({"object_id": "a", "timerange": ""})",
       std::nullopt},
      {"TimerangeNotString", "flow-segment-post.json", R"({"object_id": "a", "timerange": 10})",
       "timerange: must be a string"},
      {"TsOffsetBad", "flow-segment-post.json",
       R"({"object_id": "a", "timerange": "[0:0_1:0]", "ts_offset": "1.5"})",
       std::string("ts_offset: must be a Timestamp matching ") + kTimestampPattern +
           R"( (got "1.5"))"},
      {"CodecWithSpace", "flow.json", video_flow_with(R"("container": "video/mp 2t")"),
       R"(container: must match pattern ^[^\s/]+/[^\s/]+$ (got "video/mp 2t"))"},
      {"CodecWithoutSlash", "flow.json",
       "{" + kFlowIds + R"(, "format": "urn:x-nmos:format:video", "codec": "h264",
          "essence_parameters": {"frame_width": 1, "frame_height": 1}})",
       R"(codec: must match pattern ^[^\s/]+/[^\s/]+$ (got "h264"))"},
      {"ApiVersionNoMinor", "service.json", R"({"type": "t", "api_version": "7"})",
       R"(api_version: must match pattern ^(0|[1-9]\d*)\.(0|[1-9]\d*)$ (got "7"))"},
      {"ApiVersionOk", "service.json", R"({"type": "t", "api_version": "7.0"})", std::nullopt},
      {"ChannelRangeBad", "flow-collection.json",
       R"([{"id": "4f79cfd1-c057-47f4-8e4d-1b126ca7bf34", "role": "L",
            "container_mapping": {"audio_track": {"channel_range": "1-2"}}}])",
       R"([0].container_mapping.audio_track.channel_range: must match pattern ^[0-9]+_[0-9]+$ (got "1-2"))"},
      {"LongStringDoesNotOverflowStack", "flow.json",
       video_flow_with(R"("container": ")" + std::string(50000, 'a') + R"(/b")"), std::nullopt},

      // additionalProperties / unevaluatedProperties.
      {"EssenceParametersExtra", "flow.json",
       video_flow_params(R"("frame_width": 1920, "frame_height": 1080, "foo": 1)"),
       "essence_parameters.foo: property not allowed"},
      {"EssenceParametersExtraFlowVideo", "flow-video.json",
       video_flow_params(R"("frame_width": 1920, "frame_height": 1080, "sample_rate": 1)"),
       "essence_parameters.sample_rate: property not allowed"},
      {"FlowTopLevelExtraAllowed", "flow.json", video_flow_with(R"("x_custom": {"a": 1})"),
       std::nullopt},
      {"FlowStorageExtra", "flow-storage.json", R"({"media_objects": [], "foo": 1})",
       "foo: property not allowed"},
      {"HttpRequestExtraAllowed", "flow-storage.json",
       R"({"media_objects": [{"object_id": "o", "put_url": {"url": "u", "method": "PUT"}}]})",
       std::nullopt},
      {"HttpRequestHeaderNotString", "flow-storage.json",
       R"({"media_objects": [{"object_id": "o",
           "put_url": {"url": "u", "headers": {"X-Foo": 1}}}]})",
       "media_objects[0].put_url.headers.X-Foo: must be a string"},
      {"GetUrlsUnevaluatedProperty", "flow-segment.json",
       R"({"object_id": "a", "timerange": "[0:0_1:0]",
           "get_urls": [{"url": "u"}, {"url": "u", "label": "l", "bar": true}]})",
       "get_urls[1].bar: property not allowed"},
      {"GetUrlsStorageBackendPropertiesEvaluated", "flow-segment.json",
       R"({"object_id": "a", "timerange": "[0:0_1:0]",
           "get_urls": [{"url": "u", "label": "l", "presigned": true, "controlled": false,
                         "storage_id": "60af2ab4-e8a5-4c65-a09b-d35983680315",
                         "store_type": "http_object_store", "provider": "p", "region": "r",
                         "availability_zone": "a", "store_product": "s"}]})",
       std::nullopt},
      {"GetUrlsStoreTypeEnum", "flow-segment.json",
       R"({"object_id": "a", "timerange": "[0:0_1:0]",
           "get_urls": [{"url": "u", "store_type": "tape"}]})",
       R"(get_urls[0].store_type: must be "http_object_store" (got "tape"))"},
      {"SegmentPostGetUrlsExtraAllowed", "flow-segment-post.json",
       R"({"object_id": "a", "timerange": "[0:0_1:0]",
           "get_urls": [{"url": "u", "bar": true}]})",
       std::nullopt},

      // Numeric ranges.
      {"FrameWidthZero", "flow.json",
       video_flow_params(R"("frame_width": 0, "frame_height": 1080)"),
       "essence_parameters.frame_width: must be >= 1 (got 0)"},
      {"FrameWidthZeroFlowVideo", "flow-video.json",
       video_flow_params(R"("frame_width": 0, "frame_height": 1080)"),
       "essence_parameters.frame_width: must be >= 1 (got 0)"},
      {"FrameHeightNegative", "flow.json",
       video_flow_params(R"("frame_width": 1, "frame_height": -1080)"),
       "essence_parameters.frame_height: must be >= 1 (got -1080)"},
      {"AvgBitRateNegative", "flow.json", video_flow_with(R"("avg_bit_rate": -1)"),
       "avg_bit_rate: must be >= 0 (got -1)"},
      {"MaxBitRateNegative", "flow.json", video_flow_with(R"("max_bit_rate": -5000)"),
       "max_bit_rate: must be >= 0 (got -5000)"},
      {"BitRateZeroOk", "flow.json", video_flow_with(R"("avg_bit_rate": 0)"), std::nullopt},
      {"BitRateHugeOk", "flow.json", video_flow_with(R"("max_bit_rate": 18446744073709551615)"),
       std::nullopt},
      {"GenerationNegative", "flow.json", video_flow_with(R"("generation": -1)"),
       "generation: must be >= 0 (got -1)"},
      {"SegmentDurationDenominatorZero", "flow.json",
       video_flow_with(R"("segment_duration": {"numerator": 1, "denominator": 0})"),
       "segment_duration.denominator: must be >= 1 (got 0)"},
      {"SegmentDurationNoNumerator", "flow.json",
       video_flow_with(R"("segment_duration": {"denominator": 1})"),
       R"(segment_duration: missing required property "numerator")"},
      {"FrameRateNumeratorNegativeDouble", "flow.json",
       video_flow_params(
           R"("frame_width": 1, "frame_height": 1, "frame_rate": {"numerator": -2.0})"),
       "essence_parameters.frame_rate.numerator: must be >= 1 (got -2)"},
      {"AudioSampleRateZero", "flow.json",
       "{" + kFlowIds + R"(, "format": "urn:x-nmos:format:audio", "codec": "audio/aac",
          "essence_parameters": {"sample_rate": 0, "channels": 2}})",
       "essence_parameters.sample_rate: must be >= 1 (got 0)"},
      {"TrackIndexNegative", "flow.json",
       video_flow_with(R"("container_mapping": {"track_index": -1})"),
       "container_mapping.track_index: must be >= 0 (got -1)"},
      {"ChannelNumbersEmpty", "flow.json",
       video_flow_with(R"("container_mapping": {"audio_track": {"channel_numbers": []}})"),
       "container_mapping.audio_track.channel_numbers: must have at least 1 item (got 0)"},
      {"ChannelNumbersNegative", "flow.json",
       video_flow_with(R"("container_mapping": {"audio_track": {"channel_numbers": [0, -1]}})"),
       "container_mapping.audio_track.channel_numbers[1]: must be >= 0 (got -1)"},

      // Enums.
      {"InterlaceModeBad", "flow.json",
       video_flow_params(R"("frame_width": 1, "frame_height": 1, "interlace_mode": "interlaced")"),
       R"(essence_parameters.interlace_mode: must be one of "progressive", "interlaced_tff", )"
       R"("interlaced_bff", "interlaced_psf" (got "interlaced"))"},
      {"InterlaceModeNotString", "flow-video.json",
       video_flow_params(R"("frame_width": 1, "frame_height": 1, "interlace_mode": 1)"),
       "essence_parameters.interlace_mode: must be a string"},
      {"ColorspaceOk", "flow.json",
       video_flow_params(R"("frame_width": 1, "frame_height": 1, "colorspace": "BT2100",
           "transfer_characteristic": "HLG", "interlace_mode": "interlaced_tff")"),
       std::nullopt},
      {"DeletionStatusBad", "deletion-request.json",
       R"({"id": "9f0187c1-419c-44d2-8269-e869ba409462",
           "flow_id": "d14c70ad-6c59-4092-b51f-b75f6edf04e3", "timerange_to_delete": "_",
           "delete_flow": true, "status": "finished"})",
       R"(status: must be one of "created", "started", "done", "error" (got "finished"))"},
      {"SourceFormatBad", "source.json",
       R"({"id": "4f79cfd1-c057-47f4-8e4d-1b126ca7bf34", "format": "urn:x-nmos:format:foo"})",
       R"(format: must be one of "urn:x-nmos:format:video", "urn:x-tam:format:image", )"
       R"("urn:x-nmos:format:audio", "urn:x-nmos:format:data", "urn:x-nmos:format:multi" )"
       R"((got "urn:x-nmos:format:foo"))"},
      {"FlowStoragePreActionBad", "flow-storage.json", R"({"pre": [{"action": "delete_bucket"}]})",
       R"(pre[0].action: must be "create_bucket" (got "delete_bucket"))"},

      // Date-times.
      {"CreatedBadMonth", "flow.json", video_flow_with(R"("created": "2024-13-01T00:00:00Z")"),
       R"(created: must be an RFC 3339 date-time (got "2024-13-01T00:00:00Z"))"},
      {"CreatedNoOffset", "flow.json", video_flow_with(R"("created": "2024-04-25T15:56:00")"),
       R"(created: must be an RFC 3339 date-time (got "2024-04-25T15:56:00"))"},
      {"CreatedSpaceSeparator", "source.json",
       R"({"id": "4f79cfd1-c057-47f4-8e4d-1b126ca7bf34", "format": "urn:x-nmos:format:video",
           "updated": "2024-04-25 15:56:00Z"})",
       R"(updated: must be an RFC 3339 date-time (got "2024-04-25 15:56:00Z"))"},
      {"CreatedNotString", "flow.json", video_flow_with(R"("created": 1714060560)"),
       "created: must be a string"},
      {"ErrorTimeBad", "flow-segment-bulk-failure.json",
       R"({"failed_segments": [{"object_id": "o",
           "error": {"type": "t", "summary": "s", "time": "yesterday"}}]})",
       R"(failed_segments[0].error.time: must be an RFC 3339 date-time (got "yesterday"))"},
      {"CreatedFractionAndOffsetOk", "flow.json",
       video_flow_with(R"("created": "2024-02-29T23:59:59.123456789+05:30")"), std::nullopt},

      // URI format (source.json "format" is also "format": "uri").
      {"SourceFormatUriOk", "source.json",
       R"({"id": "4f79cfd1-c057-47f4-8e4d-1b126ca7bf34", "format": "urn:x-tam:format:image"})",
       std::nullopt},

      // oneOf branch selection in flow.json.
      {"AudioParamsWithVideoFormat", "flow.json",
       "{" + kFlowIds + R"(, "format": "urn:x-nmos:format:video", "codec": "audio/aac",
          "essence_parameters": {"sample_rate": 48000, "channels": 2}})",
       R"(essence_parameters: missing required property "frame_width")"},
      {"AudioParamsWithVideoFormatParamsFirst", "flow.json",
       "{" + kFlowIds + R"(, "essence_parameters": {"sample_rate": 48000, "channels": 2},
          "codec": "audio/aac", "format": "urn:x-nmos:format:video"})",
       R"(essence_parameters: missing required property "frame_width")"},
      {"VideoParamsWithAudioFormat", "flow.json",
       "{" + kFlowIds + R"(, "essence_parameters": {"frame_width": 1, "frame_height": 1},
          "codec": "video/h264", "format": "urn:x-nmos:format:audio"})",
       R"(essence_parameters: missing required property "sample_rate")"},
      {"ImageFlowWithVideoOnlyParam", "flow.json",
       "{" + kFlowIds + R"(, "format": "urn:x-tam:format:image", "codec": "image/jpeg",
          "essence_parameters": {"frame_width": 1, "frame_height": 1, "bit_depth": 8}})",
       "essence_parameters.bit_depth: property not allowed"},
      {"DataFlowBadParam", "flow.json",
       "{" + kFlowIds + R"(, "format": "urn:x-nmos:format:data", "codec": "text/plain",
          "essence_parameters": {"data_type": 5}})",
       "essence_parameters.data_type: must be a string"},
      {"UnknownFormatListsAllVariants", "flow.json",
       "{" + kFlowIds + R"(, "format": "urn:x-nmos:format:smell", "codec": "a/b",
          "essence_parameters": {}})",
       R"(format: must be one of "urn:x-nmos:format:video", "urn:x-nmos:format:audio", )"
       R"("urn:x-tam:format:image", "urn:x-nmos:format:data", "urn:x-nmos:format:multi" )"
       R"((got "urn:x-nmos:format:smell"))"},
      {"MissingFormat", "flow.json", "{" + kFlowIds + "}",
       R"((root): missing required property "format")"},
      {"AudioFlowValid", "flow.json",
       "{" + kFlowIds + R"(, "format": "urn:x-nmos:format:audio", "codec": "audio/aac",
          "essence_parameters": {"sample_rate": 48000, "channels": 2,
                                 "unc_parameters": {"unc_type": "planar"}}})",
       std::nullopt},
      {"AudioUncTypeBad", "flow.json",
       "{" + kFlowIds + R"(, "format": "urn:x-nmos:format:audio", "codec": "audio/aac",
          "essence_parameters": {"sample_rate": 48000, "channels": 2,
                                 "unc_parameters": {"unc_type": "v210"}}})",
       R"(essence_parameters.unc_parameters.unc_type: must be one of "interleaved", "planar", )"
       R"("pairs" (got "v210"))"},

      // not/allOf in flow-storage-post.json.
      {"StoragePostLimitAndObjectIds", "flow-storage-post.json",
       R"({"limit": 2, "object_ids": ["a", "b"]})",
       R"((root): must not have both "limit" and "object_ids")"},
      {"StoragePostNeither", "flow-storage-post.json",
       R"({"storage_id": "60af2ab4-e8a5-4c65-a09b-d35983680315"})", std::nullopt},
      {"StoragePostBadStorageId", "flow-storage-post.json", R"({"limit": 2, "storage_id": "x"})",
       "storage_id: " + uuid_rule + R"( (got "x"))"},
      {"StoragePostObjectIdNotString", "flow-storage-post.json", R"({"object_ids": [1]})",
       "object_ids[0]: must be a string"},

      // Webhook posts.
      {"WebhookPostFull", "webhook-post.json",
       R"({"url": "https://hook.example.com", "events": ["flows/segments_added"],
           "flow_ids": ["4f79cfd1-c057-47f4-8e4d-1b126ca7bf34"],
           "source_ids": ["0fde9c11-da9d-434a-a113-d3b20a2cf251"],
           "flow_collected_by_ids": [], "source_collected_by_ids": [],
           "accept_get_urls": ["a", ""],
           "accept_storage_ids": ["60af2ab4-e8a5-4c65-a09b-d35983680315"],
           "presigned": true, "verbose_storage": false})",
       std::nullopt},
      {"WebhookPostBadStorageId", "webhook-post.json",
       R"({"url": "u", "events": [], "accept_storage_ids": ["X"]})",
       "accept_storage_ids[0]: " + uuid_rule + R"( (got "X"))"},
      {"WebhookPostUrlNotString", "webhook-post.json", R"({"url": null, "events": []})",
       "url: must be a string"},
  };
}

class SpecCaseTest : public testing::TestWithParam<Case> {};

TEST_P(SpecCaseTest, GivesExpectedResult) {
  const Case& c = GetParam();
  EXPECT_EQ(validate(c.schema, c.json), c.expected);
}

INSTANTIATE_TEST_SUITE_P(SpecSchemas, SpecCaseTest, testing::ValuesIn(spec_cases()),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// The embedded copies and the set as a whole.

TEST(SchemaSetSpec, LoadsAll31EmbeddedSchemas) {
  const auto& files = embedded_schemas();
  ASSERT_EQ(files.size(), 31u);
  const SchemaSet& set = SchemaSet::spec();
  for (const EmbeddedSchema& file : files) {
    // Validating anything proves the name is known (unknown names throw).
    EXPECT_NO_THROW(set.validate(file.file_name, bj::value(nullptr))) << file.file_name;
  }
  EXPECT_EQ(&SchemaSet::spec(), &set);
}

TEST(SchemaSetSpec, UnknownSchemaNameThrowsOutOfRange) {
  EXPECT_THROW(spec().validate("flow-vidoe.json", bj::object{}), std::out_of_range);
  EXPECT_THROW(spec().validate("", bj::object{}), std::out_of_range);
}

TEST(SchemaSetSpec, ErrorIsOneLine) {
  auto error = validate("tags.json", R"({"x\n\ty": {"a": 1}})");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->find('\n'), std::string::npos) << *error;
  auto long_value = validate("flow-segment-post.json", R"({"object_id": "a", "timerange": ")" +
                                                           std::string(500, 'x') + R"(\n"})");
  ASSERT_TRUE(long_value.has_value());
  EXPECT_EQ(long_value->find('\n'), std::string::npos);
  EXPECT_LT(long_value->size(), 400u) << *long_value;
  EXPECT_NE(long_value->find(R"(xxx...")"), std::string::npos) << *long_value;
}

TEST(SchemaSetSpec, ConcurrentValidationFromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &failures] {
      bj::value good = bj::parse(kVideoFlow);
      bj::value bad = bj::parse(video_flow_params(R"("frame_width": 0, "frame_height": 1)"));
      for (int i = 0; i < 200; ++i) {
        if (SchemaSet::spec().validate("flow.json", good).has_value()) ++failures[t];
        if (!SchemaSet::spec().validate("flow.json", bad).has_value()) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

// ---------------------------------------------------------------------------------------------
// Keyword semantics and loader errors, on small hand-written schema sets.

SchemaSet make_set(std::vector<std::pair<std::string, std::string>> files) {
  // EmbeddedSchema holds views, so keep the strings alive for the constructor call.
  static std::vector<std::unique_ptr<std::string>> storage;
  std::vector<EmbeddedSchema> schemas;
  for (auto& [name, text] : files) {
    storage.push_back(std::make_unique<std::string>(name));
    std::string_view n = *storage.back();
    storage.push_back(std::make_unique<std::string>(text));
    schemas.push_back(EmbeddedSchema{n, *storage.back()});
  }
  return SchemaSet(schemas);
}

std::optional<std::string> check(const SchemaSet& set, std::string_view json) {
  return set.validate("s.json", bj::parse(json));
}

std::string load_error(const std::string& schema) {
  try {
    make_set({{"s.json", schema}});
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(SchemaSetLoad, RejectsUnsupportedKeywords) {
  EXPECT_EQ(load_error(R"({"type": "object", "minProperties": 1})"),
            R"(schema s.json#: unsupported keyword "minProperties")");
  EXPECT_EQ(load_error(R"({"properties": {"a": {"$defs": {}}}})"),
            R"(schema s.json#/properties/a: unsupported keyword "$defs")");
  EXPECT_EQ(load_error(R"({"allOf": [{}, {"contains": {}}]})"),
            R"(schema s.json#/allOf/1: unsupported keyword "contains")");
  EXPECT_EQ(load_error(R"({"properties": {"a/b": {"dependentRequired": {}}}})"),
            R"(schema s.json#/properties/a~1b: unsupported keyword "dependentRequired")");
}

TEST(SchemaSetLoad, RejectsMalformedKeywordValues) {
  EXPECT_EQ(load_error(R"({"type": "text"})"),
            R"(schema s.json#: keyword "type": unknown type "text")");
  EXPECT_EQ(load_error(R"({"format": "email"})"),
            R"(schema s.json#: keyword "format": unsupported format "email")");
  EXPECT_NE(load_error(R"({"pattern": "([a-z"})").find(R"(keyword "pattern": invalid)"),
            std::string::npos);
  EXPECT_EQ(load_error(R"({"items": [{}]})"),
            R"(schema s.json#: keyword "items": the array (tuple) form is not supported)");
  EXPECT_EQ(load_error(R"({"minItems": -1})"),
            R"(schema s.json#: keyword "minItems": must be a non-negative integer)");
  EXPECT_EQ(load_error(R"({"required": "a"})"),
            R"(schema s.json#: keyword "required": must be an array of strings)");
  EXPECT_EQ(load_error(R"({"properties": {"a": 5}})"),
            R"(schema s.json#/properties/a: a schema must be an object or a boolean)");
  EXPECT_EQ(load_error(R"({"oneOf": []})"),
            R"(schema s.json#: keyword "oneOf": must be a non-empty array)");
  EXPECT_NE(load_error("{").find("schema s.json: invalid JSON"), std::string::npos);
}

TEST(SchemaSetLoad, RejectsBadRefs) {
  EXPECT_EQ(load_error(R"({"properties": {"a": {"$ref": "missing.json"}}})"),
            R"(schema s.json#/properties/a: keyword "$ref": "missing.json" is not a schema )"
            R"(of the set)");
  EXPECT_EQ(load_error(R"({"$ref": "s.json#/properties/a"})"),
            R"(schema s.json#: keyword "$ref": JSON pointer fragments are not supported )"
            R"(("s.json#/properties/a"))");
}

TEST(SchemaSetLoad, IgnoresAnnotations) {
  SchemaSet set =
      make_set({{"s.json", R"({"$schema": "https://json-schema.org/draft/2020-12/schema",
      "$id": "s.json", "$comment": "c", "title": "T", "description": "d", "examples": [1],
      "default": 1, "readOnly": true, "writeOnly": false, "deprecated": false})"}});
  EXPECT_EQ(check(set, "[1, {}]"), std::nullopt);
}

TEST(SchemaSetLoad, ResolvesRefWithEmptyFragment) {
  SchemaSet set =
      make_set({{"s.json", R"({"$ref": "t.json#"})"}, {"t.json", R"({"type": "null"})"}});
  EXPECT_EQ(check(set, "null"), std::nullopt);
  EXPECT_EQ(check(set, "1"), "(root): must be null");
}

TEST(SchemaSetKeywords, TypeArraysAndIntegers) {
  SchemaSet set = make_set({{"s.json", R"({"properties": {
      "a": {"type": ["string", "null"]}, "b": {"type": "integer"},
      "c": {"type": ["integer", "number"]}, "d": {"type": ["object", "array"]}}})"}});
  EXPECT_EQ(check(set, R"({"a": null, "b": 3.0, "c": 0.5, "d": []})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"a": 1})"), "a: must be a string or null");
  EXPECT_EQ(check(set, R"({"b": 1e300})"), std::nullopt);  // integral, if large
  EXPECT_EQ(check(set, R"({"b": true})"), "b: must be an integer");
  EXPECT_EQ(check(set, R"({"c": "1"})"), "c: must be a number");
  EXPECT_EQ(check(set, R"({"d": "x"})"), "d: must be an object or an array");
}

TEST(SchemaSetKeywords, ConstEnumAndNumericEquality) {
  SchemaSet set = make_set({{"s.json", R"({"properties": {"k": {"const": {"a": [1, 2]}},
      "e": {"enum": [1, "x", null]}}})"}});
  EXPECT_EQ(check(set, R"({"k": {"a": [1.0, 2]}, "e": 1.0})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"k": {"a": [2, 1]}})"), R"(k: must be {"a":[1,2]} (got {"a":[2,1]}))");
  EXPECT_EQ(check(set, R"({"e": "y"})"), R"(e: must be one of 1, "x", null (got "y"))");
}

TEST(SchemaSetKeywords, NumericBounds) {
  SchemaSet set = make_set({{"s.json", R"({"properties": {
      "i": {"type": "integer", "minimum": -2, "exclusiveMaximum": 10},
      "n": {"type": "number", "exclusiveMinimum": 0, "maximum": 1.5},
      "u": {"minimum": 18446744073709551615}}})"}});
  EXPECT_EQ(check(set, R"({"i": -2, "n": 1.5, "u": 18446744073709551615})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"i": -3})"), "i: must be >= -2 (got -3)");
  EXPECT_EQ(check(set, R"({"i": 10})"), "i: must be <= 9 (got 10)");
  EXPECT_EQ(check(set, R"({"n": 0})"), "n: must be > 0 (got 0)");
  EXPECT_EQ(check(set, R"({"n": 1.75})"), "n: must be <= 1.5 (got 1.75)");
  EXPECT_EQ(check(set, R"({"u": 9223372036854775807})"),
            "u: must be >= 18446744073709551615 (got 9223372036854775807)");
  EXPECT_EQ(check(set, R"({"u": -1})"), "u: must be >= 18446744073709551615 (got -1)");
}

TEST(SchemaSetKeywords, StringsAndArrays) {
  SchemaSet set = make_set({{"s.json", R"({"properties": {
      "s": {"minLength": 2, "maxLength": 3},
      "a": {"minItems": 1, "maxItems": 2, "uniqueItems": true, "items": {"type": "integer"}},
      "p": {"pattern": "b+"}}})"}});
  EXPECT_EQ(check(set, R"({"s": "éé", "a": [1, 2], "p": "abbc"})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"s": "é"})"), "s: must be at least 2 characters long (got 1)");
  EXPECT_EQ(check(set, R"({"s": "abcd"})"), "s: must be at most 3 characters long (got 4)");
  EXPECT_EQ(check(set, R"({"a": []})"), "a: must have at least 1 item (got 0)");
  EXPECT_EQ(check(set, R"({"a": [1, 2, 3]})"), "a: must have at most 2 items (got 3)");
  EXPECT_EQ(check(set, R"({"a": [1, 1.0]})"),
            "a: must not contain duplicate items ([0] and [1] are equal)");
  EXPECT_EQ(check(set, R"({"a": ["1"]})"), "a[0]: must be an integer");
  EXPECT_EQ(check(set, R"({"p": "ac"})"), R"(p: must match pattern b+ (got "ac"))");
}

TEST(SchemaSetKeywords, PatternAndAdditionalProperties) {
  SchemaSet set = make_set({{"s.json", R"({"properties": {"id": {"type": "string"}},
      "patternProperties": {"^x-": {"type": "integer"}},
      "additionalProperties": {"type": "boolean"}})"}});
  EXPECT_EQ(check(set, R"({"id": "a", "x-n": 1, "flag": true})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"x-n": "1"})"), "x-n: must be an integer");
  EXPECT_EQ(check(set, R"({"flag": 1})"), "flag: must be a boolean");
  SchemaSet closed = make_set({{"s.json", R"({"additionalProperties": false,
      "patternProperties": {"^x-": true}})"}});
  EXPECT_EQ(check(closed, R"({"x-a": 1})"), std::nullopt);
  EXPECT_EQ(check(closed, R"({"x-a": 1, "y": 2})"), "y: property not allowed");
}

TEST(SchemaSetKeywords, BooleanSchemas) {
  SchemaSet set = make_set({{"s.json", "false"}, {"t.json", R"({"items": false})"}});
  EXPECT_EQ(check(set, "1"), "(root): no value is allowed");
  EXPECT_EQ(set.validate("t.json", bj::parse("[]")), std::nullopt);
  EXPECT_EQ(set.validate("t.json", bj::parse("[1]")), "[0]: item not allowed");
}

TEST(SchemaSetKeywords, UnevaluatedPropertiesSeesOnlyItsOwnSubschemas) {
  // x is evaluated by a sibling of the schema that has unevaluatedProperties, which does not
  // count (2020-12 annotations flow up through applicators, not sideways).
  SchemaSet set = make_set({{"s.json", R"({"allOf": [
      {"properties": {"x": true}},
      {"properties": {"y": true}, "unevaluatedProperties": false}]})"}});
  EXPECT_EQ(check(set, R"({"y": 1})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"x": 1, "y": 1})"), "x: property not allowed");
}

TEST(SchemaSetKeywords, UnevaluatedPropertiesCountsOnlySuccessfulBranches) {
  SchemaSet set = make_set({{"s.json", R"({"unevaluatedProperties": false,
      "anyOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "string"}}, "required": ["b"]}],
      "if": {"properties": {"kind": {"const": "c"}}, "required": ["kind"]},
      "then": {"properties": {"c": true}},
      "else": {"properties": {"d": true}}})"}});
  EXPECT_EQ(check(set, R"({"a": "1", "b": "2", "kind": "c", "c": 0})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"a": "1", "d": 0})"), std::nullopt);
  // b fails its branch, so it is not evaluated.
  EXPECT_EQ(check(set, R"({"a": "1", "b": 2})"), "b: property not allowed");
  // kind=c takes "then", so d is not evaluated.
  EXPECT_EQ(check(set, R"({"a": "1", "kind": "c", "d": 0})"), "d: property not allowed");
  // A failed "if" leaves no annotation: kind is unevaluated.
  EXPECT_EQ(check(set, R"({"a": "1", "kind": "e"})"), "kind: property not allowed");
}

TEST(SchemaSetKeywords, UnevaluatedPropertiesSchemaAndRef) {
  SchemaSet set = make_set(
      {{"s.json", R"({"$ref": "base.json", "unevaluatedProperties": {"type": "integer"}})"},
       {"base.json", R"({"properties": {"name": {"type": "string"}}})"}});
  EXPECT_EQ(check(set, R"({"name": "n", "count": 1})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"name": "n", "count": "1"})"), "count: must be an integer");
}

TEST(SchemaSetKeywords, IfThenElse) {
  SchemaSet set = make_set({{"s.json", R"({
      "if": {"properties": {"codec": {"const": "audio/x-raw-int"}}, "required": ["codec"]},
      "then": {"required": ["bit_depth"]},
      "else": {"not": {"required": ["bit_depth"]}}})"}});
  EXPECT_EQ(check(set, R"({"codec": "audio/x-raw-int", "bit_depth": 24})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"codec": "audio/x-raw-int"})"),
            R"((root): missing required property "bit_depth")");
  EXPECT_EQ(check(set, R"({"codec": "audio/aac", "bit_depth": 24})"),
            R"((root): must not have property "bit_depth")");
}

TEST(SchemaSetKeywords, NotWording) {
  SchemaSet set = make_set({{"s.json", R"({"not": {"anyOf": [{"required": ["a"]},
      {"required": ["b"]}]}})"},
                            {"t.json", R"({"not": {"type": "string"}})"},
                            {"u.json", R"({"not": {"required": ["a", "b", "c"]}})"}});
  EXPECT_EQ(check(set, R"({"b": 1})"), R"((root): must not have any of the properties "a", "b")");
  EXPECT_EQ(check(set, R"({"c": 1})"), std::nullopt);
  EXPECT_EQ(set.validate("t.json", "x"), R"((root): must not match the schema in "not")");
  EXPECT_EQ(set.validate("u.json", bj::parse(R"({"a": 1, "b": 1, "c": 1})")),
            R"((root): must not have all of the properties "a", "b", "c")");
}

TEST(SchemaSetKeywords, OneOfAndAnyOf) {
  SchemaSet set = make_set(
      {{"s.json", R"({"oneOf": [{"type": "integer"}, {"minimum": 0}]})"}, {"t.json", R"({"anyOf": [
      {"properties": {"kind": {"const": "a"}, "v": {"type": "string"}}, "required": ["kind"]},
      {"properties": {"kind": {"const": "b"}, "v": {"type": "integer"}}, "required": ["kind"]}
      ]})"}});
  EXPECT_EQ(check(set, "-1"), std::nullopt);
  EXPECT_EQ(check(set, "0.5"), std::nullopt);
  EXPECT_EQ(check(set, "1"),
            "(root): must match exactly one oneOf branch but matches branches 0 and 1");
  EXPECT_EQ(check(set, "-0.5"), "(root): must be an integer");
  EXPECT_EQ(set.validate("t.json", bj::parse(R"({"kind": "b", "v": "x"})")),
            "v: must be an integer");
  EXPECT_EQ(set.validate("t.json", bj::parse(R"({"kind": "c"})")),
            R"(kind: must be one of "a", "b" (got "c"))");
  EXPECT_EQ(set.validate("t.json", bj::parse(R"({"kind": "a", "v": "x"})")), std::nullopt);
}

TEST(SchemaSetKeywords, Formats) {
  SchemaSet set = make_set({{"s.json", R"({"properties": {"u": {"format": "uri"},
      "id": {"format": "uuid"}, "t": {"format": "date-time"}}})"}});
  EXPECT_EQ(check(set, R"({"u": "https://a.example/p?q=1#f", "id":
      "4F79CFD1-c057-47f4-8e4d-1b126ca7bf34", "t": "2024-01-01T00:00:00Z"})"),
            std::nullopt);
  EXPECT_EQ(check(set, R"({"u": "urn:x-nmos:format:video"})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"u": "not a uri"})"), R"(u: must be a URI (got "not a uri"))");
  EXPECT_EQ(check(set, R"({"u": "/relative/path"})"), R"(u: must be a URI (got "/relative/path"))");
  EXPECT_EQ(check(set, R"({"u": "http://a/%zz"})"), R"(u: must be a URI (got "http://a/%zz"))");
  EXPECT_EQ(check(set, R"({"id": "4f79cfd1c057-47f4-8e4d-1b126ca7bf34a"})"),
            R"(id: must be a UUID (got "4f79cfd1c057-47f4-8e4d-1b126ca7bf34a"))");
  EXPECT_EQ(check(set, R"({"u": 5, "id": 5})"), std::nullopt);  // formats apply to strings only
}

TEST(SchemaSetKeywords, SelfReferenceDoesNotRecurseForever) {
  SchemaSet set = make_set({{"s.json", R"({"$ref": "s.json"})"}});
  EXPECT_EQ(check(set, "1"), "(root): schema nesting too deep to validate");
}

TEST(SchemaSetKeywords, RecursiveSchemaFollowsInstance) {
  SchemaSet set = make_set({{"s.json", R"({"type": "object",
      "properties": {"children": {"items": {"$ref": "s.json"}}, "name": {"type": "string"}}})"}});
  EXPECT_EQ(check(set, R"({"children": [{"children": [{"name": "a"}]}]})"), std::nullopt);
  EXPECT_EQ(check(set, R"({"children": [{"children": [{"name": 1}]}]})"),
            "children[0].children[0].name: must be a string");
}

// ---------------------------------------------------------------------------------------------
// RFC 3339 date-time.

TEST(Rfc3339DateTime, AcceptsValidDateTimes) {
  for (const char* s :
       {"2024-04-25T15:56:00.0Z", "2018-12-10T15:40:08.339376+00:00", "1985-04-12T23:20:50.52Z",
        "1996-12-19T16:39:57-08:00", "2024-02-29T00:00:00z", "2024-02-29t00:00:00Z",
        "2000-02-29T12:00:00Z", "1998-12-31T23:59:60Z", "1998-12-31T15:59:60.123-08:00",
        "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999999+23:59"}) {
    EXPECT_TRUE(is_rfc3339_date_time(s)) << s;
  }
}

TEST(Rfc3339DateTime, RejectsInvalidDateTimes) {
  for (const char* s : {"",
                        "2024-04-25",
                        "15:56:00Z",
                        "2024-04-25T15:56:00",
                        "2024-04-25 15:56:00Z",
                        "2024-4-25T15:56:00Z",
                        "2024-04-25T15:56Z",
                        "2024-13-01T00:00:00Z",
                        "2024-00-01T00:00:00Z",
                        "2024-04-31T00:00:00Z",
                        "2023-02-29T00:00:00Z",
                        "1900-02-29T00:00:00Z",
                        "2024-01-00T00:00:00Z",
                        "2024-01-01T24:00:00Z",
                        "2024-01-01T00:60:00Z",
                        "2024-01-01T00:00:61Z",
                        "1998-12-31T22:59:60Z",
                        "2024-01-01T00:00:00.Z",
                        "2024-01-01T00:00:00+0100",
                        "2024-01-01T00:00:00+24:00",
                        "2024-01-01T00:00:00+01:60",
                        "2024-01-01T00:00:00Z ",
                        " 2024-01-01T00:00:00Z",
                        "2024-01-01T00:00:00ZZ",
                        "+2024-01-01T00:00:00Z",
                        "2024-01-01T00:00:00,5Z",
                        "２０２４-01-01T00:00:00Z"}) {
    EXPECT_FALSE(is_rfc3339_date_time(s)) << s;
  }
}

}  // namespace
}  // namespace tams::json
