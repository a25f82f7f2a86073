// Webhook registration filters (ADR 0026 semantics), event bodies and retry backoff.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "tams/core/events.h"
#include "tams/core/webhooks.h"
#include "tams/jobs/webhook_delivery.h"

namespace tams::core {
namespace {

namespace bj = boost::json;

const std::string kFlowA = "00000000-0000-4000-8000-00000000000a";
const std::string kFlowB = "00000000-0000-4000-8000-00000000000b";
const std::string kSourceA = "00000000-0000-4000-8000-0000000000a0";
const std::string kSourceB = "00000000-0000-4000-8000-0000000000b0";
const std::string kCollector = "00000000-0000-4000-8000-0000000000c0";
const std::string kCollectorSource = "00000000-0000-4000-8000-0000000000cc";

WebhookFilters filters(const char* json) {
  return WebhookFilters::from_doc(bj::parse(json).as_object());
}

// A flow of source A, collected by kCollector, whose source is collected by kCollectorSource.
EventSubject flow_a() { return EventSubject{kFlowA, kSourceA, {kCollector}, {kCollectorSource}}; }
EventSubject flow_b() { return EventSubject{kFlowB, kSourceB, {}, {}}; }
EventSubject source_a() { return EventSubject{"", kSourceA, {}, {kCollectorSource}}; }
EventSubject source_b() { return EventSubject{"", kSourceB, {}, {}}; }

std::string all_events() {
  return R"("events": ["flows/created", "flows/updated", "flows/deleted",
    "flows/segments_added", "flows/segments_deleted", "sources/created", "sources/updated",
    "sources/deleted"])";
}

TEST(WebhookFilterTest, EventTypesMustBeListed) {
  auto f = filters(R"({"url": "u", "events": ["flows/created"]})");
  EXPECT_TRUE(matches(f, "flows/created", flow_a()));
  EXPECT_FALSE(matches(f, "flows/updated", flow_a()));
  EXPECT_FALSE(matches(f, "sources/created", source_a()));
}

TEST(WebhookFilterTest, NoFiltersPassEverything) {
  auto f = filters(("{" + all_events() + "}").c_str());
  for (auto type : kEventTypes) {
    const bool flow = std::string_view(type).starts_with("flows/");
    EXPECT_TRUE(matches(f, type, flow ? flow_a() : source_a())) << type;
    EXPECT_TRUE(matches(f, type, flow ? flow_b() : source_b())) << type;
  }
}

TEST(WebhookFilterTest, FlowIdsApplyToFlowEventsOnly) {
  auto f = filters(("{" + all_events() + R"(, "flow_ids": [")" + kFlowA + R"("]})").c_str());
  EXPECT_TRUE(matches(f, "flows/updated", flow_a()));
  EXPECT_TRUE(matches(f, "flows/segments_added", flow_a()));
  EXPECT_FALSE(matches(f, "flows/updated", flow_b()));
  EXPECT_FALSE(matches(f, "flows/segments_deleted", flow_b()));
  EXPECT_TRUE(matches(f, "sources/updated", source_a()));
  EXPECT_TRUE(matches(f, "sources/updated", source_b()));
}

TEST(WebhookFilterTest, SourceIdsApplyToEveryEvent) {
  auto f = filters(("{" + all_events() + R"(, "source_ids": [")" + kSourceB + R"("]})").c_str());
  EXPECT_FALSE(matches(f, "flows/updated", flow_a()));
  EXPECT_TRUE(matches(f, "flows/updated", flow_b()));
  EXPECT_FALSE(matches(f, "sources/deleted", source_a()));
  EXPECT_TRUE(matches(f, "sources/deleted", source_b()));
}

TEST(WebhookFilterTest, FlowCollectedByIdsApplyToFlowEventsOnly) {
  auto f = filters(
      ("{" + all_events() + R"(, "flow_collected_by_ids": [")" + kCollector + R"("]})").c_str());
  EXPECT_TRUE(matches(f, "flows/deleted", flow_a()));
  EXPECT_FALSE(matches(f, "flows/deleted", flow_b()));
  EXPECT_TRUE(matches(f, "sources/updated", source_b()));
}

TEST(WebhookFilterTest, SourceCollectedByIdsApplyToEveryEvent) {
  auto f = filters(
      ("{" + all_events() + R"(, "source_collected_by_ids": [")" + kCollectorSource + R"("]})")
          .c_str());
  EXPECT_TRUE(matches(f, "flows/updated", flow_a()));
  EXPECT_FALSE(matches(f, "flows/updated", flow_b()));
  EXPECT_TRUE(matches(f, "sources/updated", source_a()));
  EXPECT_FALSE(matches(f, "sources/updated", source_b()));
}

TEST(WebhookFilterTest, FiltersCombineWithAnd) {
  auto f = filters(("{" + all_events() + R"(, "flow_ids": [")" + kFlowA +
                    R"("], "source_ids": [")" + kSourceB + R"("]})")
                       .c_str());
  EXPECT_FALSE(matches(f, "flows/updated", flow_a()));  // source_ids fails
  EXPECT_FALSE(matches(f, "flows/updated", flow_b()));  // flow_ids fails
  EXPECT_FALSE(matches(f, "sources/updated", source_a()));
  EXPECT_TRUE(matches(f, "sources/updated", source_b()));  // flow_ids has no effect here
}

TEST(WebhookFilterTest, EmptyListPassesNoEventItAppliesTo) {
  auto f = filters(("{" + all_events() + R"(, "flow_ids": []})").c_str());
  EXPECT_FALSE(matches(f, "flows/created", flow_a()));
  EXPECT_TRUE(matches(f, "sources/created", source_a()));
}

TEST(WebhookFilterTest, ReadsTransforms) {
  auto f = filters(R"({"events": [], "accept_get_urls": ["a", "b"], "presigned": false,
                       "verbose_storage": true, "accept_storage_ids": []})");
  ASSERT_TRUE(f.get_urls.accept_get_urls);
  EXPECT_EQ(*f.get_urls.accept_get_urls, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.get_urls.presigned, std::optional<bool>(false));
  EXPECT_TRUE(f.get_urls.verbose_storage);
  ASSERT_TRUE(f.get_urls.accept_storage_ids);
  EXPECT_TRUE(f.get_urls.accept_storage_ids->empty());
  auto none = filters(R"({"events": []})");
  EXPECT_FALSE(none.get_urls.accept_get_urls);
  EXPECT_FALSE(none.get_urls.presigned);
  EXPECT_FALSE(none.get_urls.verbose_storage);
}

TEST(EventSubjectTest, RoundTripsThroughJson) {
  const EventSubject s = flow_a();
  const EventSubject back = EventSubject::from_json(s.to_json());
  EXPECT_EQ(back.flow_id, s.flow_id);
  EXPECT_EQ(back.source_id, s.source_id);
  EXPECT_EQ(back.flow_collected_by, s.flow_collected_by);
  EXPECT_EQ(back.source_collected_by, s.source_collected_by);
  EXPECT_FALSE(source_a().to_json().contains("flow_id"));
}

TEST(EventTypesTest, KnowsTheEightTypes) {
  EXPECT_EQ(kEventTypes.size(), 8u);
  EXPECT_TRUE(is_event_type("flows/segments_deleted"));
  EXPECT_TRUE(is_event_type("sources/deleted"));
  EXPECT_FALSE(is_event_type("flows/segments_updated"));
  EXPECT_FALSE(is_event_type("Flows/Created"));
  EXPECT_FALSE(is_event_type(""));
}

TEST(RenderEventTest, WrapsPayloadWithTimestampAndType) {
  store::EventRecord e;
  e.seq = 7;
  e.type = "flows/deleted";
  e.timestamp = "2026-01-02T03:04:05.000006Z";
  e.payload = bj::object{{"flow_id", kFlowA}};
  media::Backends backends;
  const bj::object body = render_event(e, filters(R"({"events": []})"), backends, "http://x");
  EXPECT_EQ(body, bj::parse(R"({"event_timestamp": "2026-01-02T03:04:05.000006Z",
      "event_type": "flows/deleted", "event": {"flow_id": ")" +
                            kFlowA + R"("}})"));
}

TEST(RenderEventTest, SegmentsGetUrlsShapedByTheRegistration) {
  store::EventRecord e;
  e.type = "flows/segments_added";
  e.timestamp = "2026-01-02T03:04:05.000006Z";
  e.payload = bj::parse(R"({"flow_id": ")" + kFlowA + R"J(", "segments": [
      {"segment": {"object_id": "o1", "timerange": "[0:0_1:0)",
                   "get_urls": [{"url": "https://a.example/o1", "label": "a"},
                                {"url": "https://b.example/o1", "label": "b"}]},
       "storage_id": ""}]})J")
                  .as_object();
  media::Backends backends;
  auto segment_of = [&](const char* registration) {
    const bj::object body = render_event(e, filters(registration), backends, "http://x");
    return body.at("event").at("segments").at(0).as_object();
  };
  const bj::object all = segment_of(R"({"events": []})");
  EXPECT_EQ(all.at("object_id"), "o1");
  EXPECT_EQ(all.at("timerange"), "[0:0_1:0)");
  EXPECT_EQ(all.at("get_urls"), bj::parse(R"([{"url": "https://a.example/o1", "presigned": false,
      "label": "a"}, {"url": "https://b.example/o1", "presigned": false, "label": "b"}])"));
  EXPECT_EQ(segment_of(R"({"events": [], "accept_get_urls": []})").at("get_urls"), bj::array());
  EXPECT_EQ(segment_of(R"({"events": [], "accept_get_urls": ["b"]})").at("get_urls"),
            bj::parse(R"([{"url": "https://b.example/o1", "presigned": false, "label": "b"}])"));
  EXPECT_EQ(segment_of(R"({"events": [], "presigned": true})").at("get_urls"), bj::array());
  EXPECT_EQ(segment_of(R"({"events": [], "verbose_storage": true})")
                .at("get_urls")
                .at(0)
                .at("controlled"),
            false);
}

}  // namespace
}  // namespace tams::core

namespace tams::jobs {
namespace {

using std::chrono::milliseconds;

TEST(RetryDelayTest, DoublesPerAttemptWithEqualJitter) {
  const milliseconds base(1000), cap(300000);
  EXPECT_EQ(retry_delay(1, base, cap, 0.0), milliseconds(500));
  EXPECT_EQ(retry_delay(1, base, cap, 0.999999), milliseconds(999));
  EXPECT_EQ(retry_delay(2, base, cap, 0.0), milliseconds(1000));
  EXPECT_EQ(retry_delay(3, base, cap, 0.0), milliseconds(2000));
  EXPECT_EQ(retry_delay(3, base, cap, 0.5), milliseconds(3000));
  EXPECT_EQ(retry_delay(8, base, cap, 0.0), milliseconds(64000));
}

TEST(RetryDelayTest, NeverExceedsTheCap) {
  const milliseconds base(1000), cap(300000);
  for (int64_t n : std::initializer_list<int64_t>{10, 20, 62, 1000, INT64_MAX}) {
    EXPECT_LE(retry_delay(n, base, cap, 1.0), cap) << n;
    EXPECT_GE(retry_delay(n, base, cap, 0.0), cap / 2) << n;
  }
}

TEST(RetryDelayTest, ClampsOddInputs) {
  const milliseconds base(100), cap(1000);
  EXPECT_EQ(retry_delay(0, base, cap, 0.0), milliseconds(50));
  EXPECT_EQ(retry_delay(-5, base, cap, 0.0), milliseconds(50));
  EXPECT_EQ(retry_delay(1, base, cap, 7.0), milliseconds(100));
  EXPECT_EQ(retry_delay(1, base, cap, -1.0), milliseconds(50));
}

}  // namespace
}  // namespace tams::jobs
