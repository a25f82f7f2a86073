// The webhook outbox (events written with the change, in the same transaction) and the delivery
// worker (order, retries, giving up, restart, isolation between receivers), with a fake sender.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tams/core/error.h"
#include "tams/core/events.h"
#include "tams/core/flows.h"
#include "tams/core/segments.h"
#include "tams/core/sources.h"
#include "tams/core/webhooks.h"
#include "tams/jobs/webhook_delivery.h"
#include "tams/store/sqlite/sqlite_store.h"
#include "test_support.h"

namespace tams {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;

using test::data_flow;
using test::eventually;
using test::id_of;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tams-webhook-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    open_store();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open_store() {
    store_.reset();
    store_ = store::sqlite::SqliteStore::open(dir_ + "/tams.db");
  }

  int64_t register_hook(const std::string& url, const std::string& json_doc) {
    store::WebhookRecord w;
    w.url = url;
    w.doc = bj::parse(json_doc).as_object();
    w.doc["url"] = url;
    w.base_url = "http://tams.test";
    int64_t id = 0;
    store_->write([&](store::WriteTransaction& tx) { id = tx.put_webhook(w); });
    return id;
  }

  std::vector<store::EventRecord> events(int64_t after = 0) {
    std::vector<store::EventRecord> out;
    store_->read([&](store::Reader& r) { out = r.events_after(after, 1000); });
    return out;
  }

  std::vector<std::string> types(const std::vector<store::EventRecord>& records) {
    std::vector<std::string> out;
    for (const auto& e : records) out.push_back(e.type);
    return out;
  }

  store::WebhookRecord hook(int64_t id) {
    store::WebhookRecord found;
    store_->read([&](store::Reader& r) {
      for (auto& w : r.list_webhooks()) {
        if (w.id == id) found = w;
      }
    });
    return found;
  }

  std::string dir_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  core::Principal who_{"tester", {}};
};

constexpr const char* kAllEvents = R"({"events": ["flows/created", "flows/updated",
    "flows/deleted", "flows/segments_added", "flows/segments_deleted", "sources/created",
    "sources/updated", "sources/deleted"]})";

TEST_F(OutboxTest, NothingIsWrittenWithoutRegistrations) {
  core::Flows flows(*store_);
  flows.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  EXPECT_TRUE(events().empty());
}

TEST_F(OutboxTest, EventsAreWrittenWithTheirChange) {
  register_hook("http://hook.test/a", kAllEvents);
  core::Flows flows(*store_);
  core::Sources sources(*store_);
  flows.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  flows.put_tag(id_of(1), "t", "v", who_);
  sources.put_tag(id_of(100), "t", "v", who_);
  EXPECT_EQ(types(events()), (std::vector<std::string>{"sources/created", "flows/created",
                                                       "flows/updated", "sources/updated"}));
  const auto e = events();
  EXPECT_EQ(e[1].payload.at("flow").at("id"), bj::value(id_of(1)));
  EXPECT_EQ(e[1].subject.at("flow_id"), bj::value(id_of(1)));
  EXPECT_EQ(e[1].subject.at("source_id"), bj::value(id_of(100)));
  EXPECT_EQ(e[3].payload.at("source").at("tags").at("t"), "v");
  EXPECT_LT(e[0].seq, e[1].seq);

  // A refused change writes no event: the transaction rolls back as a whole.
  bj::object bad = data_flow(id_of(1), id_of(100));
  bad["format"] = "urn:x-nmos:format:audio";
  EXPECT_THROW(flows.put(id_of(1), bad, who_), core::Error);
  EXPECT_THROW(flows.put_tag(id_of(99), "t", "v", who_), core::Error);
  EXPECT_EQ(events().size(), 4u);
}

TEST_F(OutboxTest, FlowDeletionEmitsCollectionsSegmentsFlowAndSource) {
  core::Flows flows(*store_);
  media::Backends backends;
  core::Segments segments(*store_, backends, {});
  flows.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  bj::object collector = data_flow(id_of(2), id_of(200));
  collector["format"] = "urn:x-nmos:format:multi";
  collector.erase("codec");
  collector.erase("essence_parameters");
  collector["flow_collection"] = bj::array{bj::object{{"id", id_of(1)}, {"role", "r"}}};
  flows.put(id_of(2), collector, who_);
  register_hook("http://hook.test/a", kAllEvents);
  segments.add(id_of(1), bj::parse(R"J([
      {"object_id": "o1", "timerange": "[0:0_1:0)", "get_urls": [{"url": "https://x/1"}]},
      {"object_id": "o2", "timerange": "[1:0_2:0]", "get_urls": [{"url": "https://x/2"}]}])J"));
  flows.remove(id_of(1), who_);
  const auto e = events();
  EXPECT_EQ(types(e), (std::vector<std::string>{"flows/segments_added", "flows/updated",
                                                "flows/segments_deleted", "flows/deleted",
                                                "sources/updated", "sources/deleted"}));
  EXPECT_EQ(e[0].payload.at("segments").as_array().size(), 2u);
  EXPECT_EQ(e[1].payload.at("flow").at("id"),
            bj::value(id_of(2)));  // the collector lost its member
  EXPECT_EQ(e[2].payload.at("timerange"), "[0:0_2:0]");
  EXPECT_EQ(e[3].payload, bj::parse(R"({"flow_id": ")" + id_of(1) + R"("})"));
  // The deleted flow's subject is as it was before: collected by the collector.
  EXPECT_EQ(e[3].subject.at("flow_collected_by"), bj::array({bj::string(id_of(2))}));
  EXPECT_EQ(e[4].payload.at("source").at("id"),
            bj::value(id_of(200)));  // no source_collection left
  EXPECT_EQ(e[5].payload, bj::parse(R"({"source_id": ")" + id_of(100) + R"("})"));
  EXPECT_EQ(e[5].subject.at("source_collected_by"), bj::array({bj::string(id_of(200))}));
}

TEST_F(OutboxTest, NewRegistrationStartsAfterTheLatestEvent) {
  const int64_t first = register_hook("http://hook.test/a", kAllEvents);
  core::Flows flows(*store_);
  flows.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  const int64_t latest = events().back().seq;
  const int64_t second = register_hook("http://hook.test/b", kAllEvents);
  EXPECT_EQ(hook(first).cursor, 0);
  EXPECT_EQ(hook(second).cursor, latest);
  // Re-registering (an update) keeps the id and the progress.
  store_->write([&](store::WriteTransaction& tx) {
    ASSERT_EQ(tx.claim_webhooks({"me", 0, 1000, 10}).size(), 1u);  // second: no events yet
    EXPECT_TRUE(tx.set_webhook_progress(first, "me", 1, 3, 12345, "boom"));
  });
  EXPECT_EQ(register_hook("http://hook.test/a", R"({"events": ["flows/created"]})"), first);
  EXPECT_EQ(hook(first).cursor, 1);
  EXPECT_EQ(hook(first).attempts, 3);
  EXPECT_EQ(hook(first).doc.at("events"), bj::array({"flows/created"}));
  // A different api_key_name is a different registration.
  store::WebhookRecord keyed;
  keyed.url = "http://hook.test/a";
  keyed.api_key_name = "X-Key";
  keyed.doc = bj::parse(kAllEvents).as_object();
  int64_t keyed_id = 0;
  store_->write([&](store::WriteTransaction& tx) { keyed_id = tx.put_webhook(keyed); });
  EXPECT_NE(keyed_id, first);
  bool removed = false;
  store_->write([&](store::WriteTransaction& tx) {
    removed = tx.delete_webhook("http://hook.test/a", "X-Key");
  });
  EXPECT_TRUE(removed);
  store_->write([&](store::WriteTransaction& tx) {
    removed = tx.delete_webhook("http://hook.test/a", "X-Key");
  });
  EXPECT_FALSE(removed);
}

TEST_F(OutboxTest, PurgeKeepsWhatARegistrationStillNeedsAndSeqsAreNeverReused) {
  const int64_t hook_id = register_hook("http://hook.test/a", kAllEvents);
  core::Flows flows(*store_);
  for (int i = 1; i <= 3; ++i) flows.put(id_of(i), data_flow(id_of(i), id_of(100)), who_);
  auto all = events();
  ASSERT_EQ(all.size(), 4u);  // one source, three flows
  store_->write([&](store::WriteTransaction& tx) {
    ASSERT_EQ(tx.claim_webhooks({"me", 0, 1000, 10}).size(), 1u);
    EXPECT_TRUE(tx.set_webhook_progress(hook_id, "me", all[1].seq, 0, 0, ""));
    EXPECT_EQ(tx.purge_events(), 2);
  });
  EXPECT_EQ(events().size(), 2u);
  const int64_t last = all.back().seq;
  store_->write([&](store::WriteTransaction& tx) {
    EXPECT_TRUE(tx.delete_webhook("http://hook.test/a", ""));
    EXPECT_EQ(tx.purge_events(), 2);  // nobody left to deliver to
  });
  EXPECT_TRUE(events().empty());
  register_hook("http://hook.test/b", kAllEvents);
  flows.put_tag(id_of(1), "t", "v", who_);
  ASSERT_EQ(events().size(), 1u);
  EXPECT_GT(events()[0].seq, last);
}

TEST_F(OutboxTest, ListenerRunsAfterCommitsThatAddedEvents) {
  std::atomic<int> calls{0};
  store_->set_event_listener([&] { calls.fetch_add(1); });
  core::Flows flows(*store_);
  flows.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  EXPECT_EQ(calls.load(), 0);
  register_hook("http://hook.test/a", kAllEvents);
  EXPECT_EQ(calls.load(), 0);
  flows.put_tag(id_of(1), "t", "v", who_);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_THROW(flows.put_tag(id_of(2), "t", "v", who_), core::Error);
  EXPECT_EQ(calls.load(), 1);
}

// ---- Delivery ----

class FakeReceivers {
 public:
  // Answers per URL: a queue of outcomes, then `delivered`.
  void fail_next(const std::string& url, int times) {
    std::lock_guard lock(mutex_);
    failures_[url] += times;
  }
  void block(const std::string& url) {
    std::lock_guard lock(mutex_);
    blocked_[url] = true;
  }
  void unblock(const std::string& url) {
    {
      std::lock_guard lock(mutex_);
      blocked_[url] = false;
    }
    cv_.notify_all();
  }
  jobs::PostSender sender() {
    return [this](const jobs::OutgoingPost& post, const std::atomic<bool>& stopping) {
      std::unique_lock lock(mutex_);
      const int now_in_flight = ++in_flight_[post.url];
      max_in_flight_[post.url] = std::max(max_in_flight_[post.url], now_in_flight);
      // The worker's stop() does not know this condition variable: poll for it.
      while (blocked_[post.url] && !stopping.load()) cv_.wait_for(lock, 5ms);
      --in_flight_[post.url];
      jobs::PostOutcome outcome;
      if (stopping.load() && blocked_[post.url]) {
        outcome.aborted = true;
        return outcome;
      }
      attempts_[post.url].push_back(bj::parse(post.body).as_object());
      headers_[post.url] = post.headers;
      if (failures_[post.url] > 0) {
        --failures_[post.url];
        outcome.error = "HTTP status 500";
        outcome.status = 500;
        return outcome;
      }
      outcome.delivered = true;
      outcome.status = 204;
      delivered_[post.url].push_back(bj::parse(post.body).as_object());
      return outcome;
    };
  }
  std::vector<bj::object> delivered(const std::string& url) {
    std::lock_guard lock(mutex_);
    return delivered_[url];
  }
  std::vector<bj::object> attempts(const std::string& url) {
    std::lock_guard lock(mutex_);
    return attempts_[url];
  }
  int max_in_flight(const std::string& url) {
    std::lock_guard lock(mutex_);
    return max_in_flight_[url];
  }
  std::vector<std::pair<std::string, std::string>> headers(const std::string& url) {
    std::lock_guard lock(mutex_);
    return headers_[url];
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, int> failures_;
  std::map<std::string, bool> blocked_;
  std::map<std::string, int> in_flight_;
  std::map<std::string, int> max_in_flight_;
  std::map<std::string, std::vector<bj::object>> attempts_;
  std::map<std::string, std::vector<bj::object>> delivered_;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> headers_;
};

class DeliveryTest : public OutboxTest {
 protected:
  jobs::WebhookDeliveryOptions fast() {
    jobs::WebhookDeliveryOptions o;
    o.concurrency = 4;
    o.max_attempts = 3;
    o.retry_base = 5ms;
    o.retry_max = 20ms;
    o.poll_interval = 50ms;
    return o;
  }
  std::unique_ptr<jobs::WebhookDelivery> start(jobs::WebhookDeliveryOptions options) {
    auto worker =
        std::make_unique<jobs::WebhookDelivery>(*store_, backends_, receivers_.sender(), options);
    store_->set_event_listener([w = worker.get()] { w->nudge(); });
    worker->start();
    return worker;
  }
  std::vector<std::string> tags_of(const std::vector<bj::object>& bodies) {
    std::vector<std::string> out;
    for (const auto& b : bodies) {
      const auto& flow = b.at("event").at("flow").as_object();
      out.emplace_back(flow.at("tags").at("n").as_string());
    }
    return out;
  }

  media::Backends backends_;
  FakeReceivers receivers_;
};

TEST_F(DeliveryTest, DeliversInOrderWithTheApiKey) {
  core::Flows flows(*store_);
  flows.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  store::WebhookRecord w;
  w.url = "http://hook.test/a";
  w.api_key_name = "X-Key";
  w.doc = bj::parse(R"({"url": "http://hook.test/a", "events": ["flows/updated"],
                        "api_key_name": "X-Key", "api_key_value": "s3cret"})")
              .as_object();
  store_->write([&](store::WriteTransaction& tx) { tx.put_webhook(w); });
  auto worker = start(fast());
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) {
    flows.put_tag(id_of(1), "n", bj::string(std::to_string(i)), who_);
    expected.push_back(std::to_string(i));
  }
  ASSERT_TRUE(eventually([&] { return receivers_.delivered(w.url).size() == 20; }));
  EXPECT_EQ(tags_of(receivers_.delivered(w.url)), expected);
  EXPECT_EQ(receivers_.headers(w.url),
            (std::vector<std::pair<std::string, std::string>>{{"X-Key", "s3cret"}}));
  EXPECT_EQ(receivers_.max_in_flight(w.url), 1);
  EXPECT_EQ(worker->counters().delivered, 20u);
  // Delivered events are purged.
  EXPECT_TRUE(eventually([&] { return events().empty(); }));
}

TEST_F(DeliveryTest, RetriesThenGivesUpAndGoesOn) {
  core::Flows flows(*store_);
  flows.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  const std::string url = "http://hook.test/a";
  const int64_t id = register_hook(url, R"({"events": ["flows/updated"]})");
  receivers_.fail_next(url, 2);  // the first event gets through on its 3rd attempt
  auto worker = start(fast());
  flows.put_tag(id_of(1), "n", "0", who_);
  ASSERT_TRUE(eventually([&] { return receivers_.delivered(url).size() == 1; }));
  EXPECT_EQ(receivers_.attempts(url).size(), 3u);
  receivers_.fail_next(url, 3);  // the second fails all 3 attempts
  flows.put_tag(id_of(1), "n", "1", who_);
  ASSERT_TRUE(eventually([&] { return worker->counters().given_up == 1; }));
  flows.put_tag(id_of(1), "n", "2", who_);
  ASSERT_TRUE(eventually([&] { return receivers_.delivered(url).size() == 2; }));
  EXPECT_EQ(tags_of(receivers_.delivered(url)), (std::vector<std::string>{"0", "2"}));
  EXPECT_EQ(receivers_.attempts(url).size(), 3u + 3u + 1u);
  const auto counters = worker->counters();
  EXPECT_EQ(counters.delivered, 2u);
  EXPECT_EQ(counters.failed_attempts, 5u);
  std::vector<store::WebhookFailureRecord> failures;
  store_->read([&](store::Reader& r) { failures = r.list_webhook_failures(10); });
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].webhook_id, id);
  EXPECT_EQ(failures[0].event_type, "flows/updated");
  EXPECT_EQ(failures[0].attempts, 3);
  EXPECT_EQ(failures[0].last_error, "HTTP status 500");
}

TEST_F(DeliveryTest, ResumesAfterARestart) {
  core::Flows flows(*store_);
  flows.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  const std::string url = "http://hook.test/a";
  register_hook(url, R"({"events": ["flows/updated"]})");
  receivers_.block(url);
  auto options = fast();
  auto worker = start(options);
  for (int i = 0; i < 3; ++i) flows.put_tag(id_of(1), "n", bj::string(std::to_string(i)), who_);
  worker->stop();  // the blocked delivery is aborted: not an attempt
  worker.reset();
  EXPECT_TRUE(receivers_.attempts(url).empty());
  open_store();  // as after a crash: only the database is left
  receivers_.unblock(url);
  worker = start(options);
  ASSERT_TRUE(eventually([&] { return receivers_.delivered(url).size() == 3; }));
  EXPECT_EQ(tags_of(receivers_.delivered(url)), (std::vector<std::string>{"0", "1", "2"}));
}

TEST_F(DeliveryTest, ASlowReceiverDoesNotHoldUpOthers) {
  core::Flows flows(*store_);
  flows.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  register_hook("http://hook.test/slow", R"({"events": ["flows/updated"]})");
  register_hook("http://hook.test/fast", R"({"events": ["flows/updated"]})");
  receivers_.block("http://hook.test/slow");
  auto worker = start(fast());
  for (int i = 0; i < 10; ++i) flows.put_tag(id_of(1), "n", bj::string(std::to_string(i)), who_);
  EXPECT_TRUE(
      eventually([&] { return receivers_.delivered("http://hook.test/fast").size() == 10; }));
  EXPECT_TRUE(receivers_.delivered("http://hook.test/slow").empty());
  receivers_.unblock("http://hook.test/slow");
  EXPECT_TRUE(
      eventually([&] { return receivers_.delivered("http://hook.test/slow").size() == 10; }));
  EXPECT_EQ(receivers_.max_in_flight("http://hook.test/slow"), 1);
}

TEST_F(DeliveryTest, FilteredEventsArePassedOver) {
  core::Flows flows(*store_);
  flows.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  flows.put(id_of(2), data_flow(id_of(2), id_of(200)), who_);
  const std::string url = "http://hook.test/a";
  const int64_t id =
      register_hook(url, (R"({"events": ["flows/updated"], "flow_ids": [")" + id_of(2) + R"("]})"));
  auto worker = start(fast());
  for (int i = 0; i < 5; ++i) flows.put_tag(id_of(1), "n", bj::string(std::to_string(i)), who_);
  flows.put_tag(id_of(2), "n", "x", who_);
  ASSERT_TRUE(eventually([&] { return receivers_.delivered(url).size() == 1; }));
  EXPECT_EQ(receivers_.delivered(url)[0].at("event").at("flow").at("id"), bj::value(id_of(2)));
  EXPECT_EQ(worker->counters().filtered, 5u);
  // The cursor passed the filtered events too, so nothing is kept for this registration.
  EXPECT_TRUE(eventually([&] { return events().empty(); }));
  EXPECT_GT(hook(id).cursor, 0);
}

}  // namespace
}  // namespace tams
