// Background work across instances: two "instances" (two lease owners, each with its own store
// handle on one database: one SQLite file, or one PostgreSQL database when TAMS_TEST_PG_URL is
// set) never work on the same item at the same time, an
// item whose lease ended is taken over, and a holder that lost its lease cannot write progress.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg_test_database.h"
#include "tams/core/deletions.h"
#include "tams/core/flows.h"
#include "tams/core/garbage.h"
#include "tams/core/job_lease.h"
#include "tams/jobs/webhook_delivery.h"
#include "tams/media/backends.h"
#include "tams/store/postgres/postgres_store.h"
#include "tams/store/sqlite/sqlite_store.h"
#include "test_support.h"

namespace tams {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;
using store::LeaseClaim;

using test::data_flow;
using test::eventually;
using test::id_of;

// The parameter names the store: "sqlite" or "postgres".
class JobClaimsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      if (test::PgTestDatabase::server().empty()) {
        GTEST_SKIP() << "TAMS_TEST_PG_URL is not set (make test-pg sets it)";
      }
      database_ = std::make_unique<test::PgTestDatabase>();
      store::postgres::PostgresOptions options;
      options.primary = database_->url();
      a_ = store::postgres::PostgresStore::open(options);
      b_ = store::postgres::PostgresStore::open(options);
      return;
    }
    char pattern[] = "/tmp/tams-claims-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    a_ = store::sqlite::SqliteStore::open(dir_ + "/tams.db");
    b_ = store::sqlite::SqliteStore::open(dir_ + "/tams.db");
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    database_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  int64_t register_hook(const std::string& url) {
    store::WebhookRecord w;
    w.url = url;
    w.doc = bj::object{{"url", url}, {"events", bj::array{"flows/created", "flows/updated"}}};
    w.base_url = "http://tams.test";
    int64_t id = 0;
    a_->write([&](store::WriteTransaction& tx) { id = tx.put_webhook(w); });
    return id;
  }
  store::WebhookRecord hook(int64_t id) {
    store::WebhookRecord found;
    a_->read([&](store::Reader& r) {
      for (auto& w : r.list_webhooks()) {
        if (w.id == id) found = w;
      }
    });
    return found;
  }
  template <class T>
  static std::vector<T> claim(store::MetadataStore& s,
                              std::vector<T> (store::WriteTransaction::*method)(const LeaseClaim&),
                              const LeaseClaim& c) {
    std::vector<T> out;
    s.write([&](store::WriteTransaction& tx) { out = (tx.*method)(c); });
    return out;
  }
  static std::vector<int64_t> ids(const std::vector<store::WebhookRecord>& hooks) {
    std::vector<int64_t> out;
    for (const auto& w : hooks) out.push_back(w.id);
    return out;
  }

  std::string dir_;                                 // SQLite
  std::unique_ptr<test::PgTestDatabase> database_;  // PostgreSQL
  std::unique_ptr<store::MetadataStore> a_;         // instance A's handle
  std::unique_ptr<store::MetadataStore> b_;         // instance B's handle
  core::Principal who_{"tester", {}};
};

// ---- The store's claims ----

TEST_P(JobClaimsTest, WebhookClaimsAreExclusiveUntilTheLeaseEnds) {
  const int64_t h1 = register_hook("http://hook.test/1");
  const int64_t h2 = register_hook("http://hook.test/2");
  const auto claim_webhooks = &store::WriteTransaction::claim_webhooks;
  // Only registrations with events after their cursor are claimed.
  EXPECT_TRUE(claim(*a_, claim_webhooks, {"A", 1000, 2000, 10}).empty());
  a_->write([&](store::WriteTransaction& tx) {
    tx.add_event(store::EventRecord{0, "flows/created", "2024-01-01T00:00:00Z", {}, {}});
  });
  EXPECT_EQ(ids(claim(*a_, claim_webhooks, {"A", 1000, 2000, 10})), (std::vector{h1, h2}));
  EXPECT_TRUE(claim(*b_, claim_webhooks, {"B", 1999, 2999, 10}).empty());
  // B cannot write progress for what A holds; A can.
  b_->write([&](store::WriteTransaction& tx) {
    EXPECT_FALSE(tx.set_webhook_progress(h1, "B", 7, 0, 0, ""));
    EXPECT_FALSE(tx.release_webhook(h1, "B"));
  });
  a_->write([&](store::WriteTransaction& tx) {
    EXPECT_TRUE(tx.set_webhook_progress(h1, "A", 0, 2, 1500, "retrying"));
  });
  EXPECT_EQ(hook(h1).attempts, 2);
  // With more than half of its leases left, A's claim returns them without renewing them...
  EXPECT_EQ(ids(claim(*a_, claim_webhooks, {"A", 1200, 2200, 10})), (std::vector{h1, h2}));
  // ...so they end at 2000, and B takes both over (h1 is due again at 1500); A's late progress
  // is refused.
  EXPECT_EQ(ids(claim(*b_, claim_webhooks, {"B", 2000, 3000, 10})), (std::vector{h1, h2}));
  a_->write([&](store::WriteTransaction& tx) {
    EXPECT_FALSE(tx.set_webhook_progress(h1, "A", 9, 0, 0, ""));
  });
  EXPECT_EQ(hook(h1).cursor, 0);
  EXPECT_EQ(hook(h1).attempts, 2);
  EXPECT_TRUE(claim(*a_, claim_webhooks, {"A", 2100, 3100, 10}).empty());
  // With less than half left, B's claim renews them: still B's after 3000.
  EXPECT_EQ(ids(claim(*b_, claim_webhooks, {"B", 2600, 3600, 10})), (std::vector{h1, h2}));
  EXPECT_TRUE(claim(*a_, claim_webhooks, {"A", 3000, 4000, 10}).empty());
  // A release frees a registration at once; a free one that is not due is not claimed.
  b_->write([&](store::WriteTransaction& tx) {
    EXPECT_TRUE(tx.set_webhook_progress(h1, "B", 0, 3, 9000, "retrying"));
    EXPECT_TRUE(tx.release_webhook(h1, "B"));
    EXPECT_TRUE(tx.release_webhook(h2, "B"));
  });
  EXPECT_EQ(ids(claim(*a_, claim_webhooks, {"A", 3100, 4100, 10})), std::vector{h2});
  // Claims without an owner are refused.
  EXPECT_THROW(claim(*a_, claim_webhooks, {"", 4000, 5000, 10}), std::invalid_argument);
}

store::DeletionRequestRecord deletion_request(const std::string& id, const std::string& created) {
  return store::DeletionRequestRecord{
      id, id_of(1),
      bj::object{{"id", id}, {"flow_id", id_of(1)}, {"status", "created"}, {"created", created},
                 {"timerange_to_delete", "_"}, {"timerange_remaining", "_"},
                 {"delete_flow", false}}};
}

TEST_P(JobClaimsTest, DeletionRequestClaimsAreExclusiveAndLostLeasesWriteNothing) {
  a_->write([&](store::WriteTransaction& tx) {
    tx.put_deletion_request(deletion_request("r1", "2024-01-01T00:00:00Z"));
    tx.put_deletion_request(deletion_request("r2", "2024-01-02T00:00:00Z"));
  });
  const auto claim_requests = &store::WriteTransaction::claim_deletion_requests;
  auto a1 = claim(*a_, claim_requests, {"A", 1000, 2000, 1});
  ASSERT_EQ(a1.size(), 1u);
  EXPECT_EQ(a1[0].id, "r1");  // oldest first
  auto b1 = claim(*b_, claim_requests, {"B", 1000, 2000, 5});
  ASSERT_EQ(b1.size(), 1u);
  EXPECT_EQ(b1[0].id, "r2");  // r1 is A's
  EXPECT_TRUE(claim(*b_, claim_requests, {"B", 1999, 2999, 5}).empty());

  // A renews r1 with its progress; after A's lease ends, B takes r1 and A's writes are refused.
  a1[0].doc["timerange_remaining"] = "[5:0_";
  a_->write([&](store::WriteTransaction& tx) {
    EXPECT_TRUE(tx.update_deletion_request(a1[0], "A", 2500));
  });
  auto b2 = claim(*b_, claim_requests, {"B", 2400, 3500, 5});
  ASSERT_EQ(b2.size(), 1u);  // B's own lease on r2 ended at 2000; r1 is still A's
  EXPECT_EQ(b2[0].id, "r2");
  auto taken = claim(*b_, claim_requests, {"B", 2500, 3500, 5});
  ASSERT_EQ(taken.size(), 1u);  // A's lease on r1 ended
  EXPECT_EQ(taken[0].id, "r1");
  EXPECT_EQ(taken[0].doc.at("timerange_remaining"), "[5:0_");
  a1[0].doc["timerange_remaining"] = "[9:0_";
  a_->write([&](store::WriteTransaction& tx) {
    EXPECT_FALSE(tx.update_deletion_request(a1[0], "A", 9999));
  });
  a_->read([&](store::Reader& r) {
    EXPECT_EQ(r.get_deletion_request("r1")->doc.at("timerange_remaining"), "[5:0_");
  });
  // Finished requests are never claimed again; a lease end of 0 releases at once.
  taken[0].doc["status"] = "done";
  b_->write([&](store::WriteTransaction& tx) {
    EXPECT_TRUE(tx.update_deletion_request(taken[0], "B", 0));
    EXPECT_TRUE(tx.update_deletion_request(b2[0], "B", 0));
  });
  auto again = claim(*a_, claim_requests, {"A", 2600, 3600, 5});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, "r2");
}

store::ObjectRecord object(const std::string& id, const std::string& storage_id, int64_t expires) {
  store::ObjectRecord o;
  o.id = id;
  o.storage_id = storage_id;
  o.allocated_for_flow = storage_id.empty() ? "" : id_of(1);
  o.expires_at = expires;
  return o;
}

TEST_P(JobClaimsTest, GarbageRowsAreTakenOnceAndTheirBytesQueuedDurably) {
  a_->write([&](store::WriteTransaction& tx) {
    tx.put_object(object("stored", "backend-1", 10));
    tx.put_object(object("alive", "backend-1", 0));
    store::ObjectRecord external = object("external", "", 0);
    external.ever_referenced = true;  // its last reference went
    tx.put_object(external);
  });
  std::vector<store::ObjectRecord> taken;
  a_->write([&](store::WriteTransaction& tx) { taken = tx.take_garbage_objects(100, 10); });
  EXPECT_EQ(taken.size(), 2u);
  b_->write([&](store::WriteTransaction& tx) { EXPECT_TRUE(tx.take_garbage_objects(100, 10).empty()); });
  a_->read([&](store::Reader& r) {
    EXPECT_FALSE(r.get_object("stored"));
    EXPECT_FALSE(r.get_object("external"));
    EXPECT_TRUE(r.get_object("alive"));
  });
  // Only the stored object has bytes to delete; it is claimed by one owner at a time, and a
  // claim never returns what its own owner still holds (a failed deletion waits for the end).
  const auto claim_bytes = &store::WriteTransaction::claim_media_deletions;
  auto a = claim(*a_, claim_bytes, {"A", 1000, 2000, 10});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].object_id, "stored");
  EXPECT_EQ(a[0].storage_id, "backend-1");
  EXPECT_TRUE(claim(*b_, claim_bytes, {"B", 1500, 2500, 10}).empty());
  EXPECT_TRUE(claim(*a_, claim_bytes, {"A", 1500, 2500, 10}).empty());
  EXPECT_EQ(claim(*b_, claim_bytes, {"B", 2000, 3000, 10}).size(), 1u);
  b_->write([&](store::WriteTransaction& tx) { tx.delete_media_deletion("stored"); });
  EXPECT_TRUE(claim(*a_, claim_bytes, {"A", 9000, 9999, 10}).empty());
}

// Many claimers on two handles, each holding what it claimed for a while: the intervals during
// which an owner held a request never overlap for the same request.
TEST_P(JobClaimsTest, ConcurrentClaimersNeverHoldTheSameRequestAtOnce) {
  a_->write([&](store::WriteTransaction& tx) {
    for (int i = 0; i < 6; ++i) {
      tx.put_deletion_request(deletion_request("r" + std::to_string(i), "2024-01-01T00:00:00Z"));
    }
  });
  std::mutex mutex;
  std::map<std::string, int> holders;  // request -> owners holding it now
  std::atomic<int> overlaps{0};
  std::atomic<int> claims{0};
  auto claimer = [&](store::MetadataStore& s, const std::string& owner) {
    core::JobLease lease{owner, 10s};
    const auto end = std::chrono::steady_clock::now() + 600ms;
    while (std::chrono::steady_clock::now() < end) {
      std::vector<store::DeletionRequestRecord> got;
      s.write([&](store::WriteTransaction& tx) { got = tx.claim_deletion_requests(lease.claim(2)); });
      {
        std::lock_guard lock(mutex);
        for (const auto& r : got) {
          if (++holders[r.id] > 1) ++overlaps;
        }
      }
      claims += static_cast<int>(got.size());
      std::this_thread::sleep_for(2ms);
      {
        std::lock_guard lock(mutex);
        for (const auto& r : got) --holders[r.id];
      }
      s.write([&](store::WriteTransaction& tx) {
        for (const auto& r : got) EXPECT_TRUE(tx.update_deletion_request(r, owner, 0));
      });
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back(claimer, std::ref(*a_), "A" + std::to_string(i));
    threads.emplace_back(claimer, std::ref(*b_), "B" + std::to_string(i));
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GT(claims.load(), 20);
}

// ---- Workers ----

// A media store that counts removals.
class CountingMediaStore final : public media::MediaStore {
 public:
  CountingMediaStore() { backend_.id = "backend-1"; }
  const media::StorageBackend& backend() const override { return backend_; }
  std::string put_url(const std::string&, const std::string&) const override { return ""; }
  std::string get_url(const std::string&, const std::string&) const override { return ""; }
  bool exists(const std::string&) const override { return false; }
  std::optional<std::string> unreachable() const override { return std::nullopt; }
  void remove(const std::string& object_id) override {
    std::this_thread::sleep_for(100us);
    std::lock_guard lock(mutex_);
    ++removed_[object_id];
  }
  std::map<std::string, int> removed() {
    std::lock_guard lock(mutex_);
    return removed_;
  }

 private:
  media::StorageBackend backend_;
  std::mutex mutex_;
  std::map<std::string, int> removed_;
};

TEST_P(JobClaimsTest, TwoCollectorsRemoveEachObjectsBytesOnce) {
  constexpr int kObjects = 300;
  a_->write([&](store::WriteTransaction& tx) {
    for (int i = 0; i < kObjects; ++i) tx.put_object(object("o" + std::to_string(i), "backend-1", 10));
  });
  CountingMediaStore media;
  media::Backends backends;
  backends.add(media);
  core::GarbageCollector ga(*a_, backends, core::JobLease{"A", 10s});
  core::GarbageCollector gb(*b_, backends, core::JobLease{"B", 10s});
  std::atomic<int64_t> rows{0};
  std::thread ta([&] {
    for (int i = 0; i < 10; ++i) rows += ga.collect(100, 40);
  });
  std::thread tb([&] {
    for (int i = 0; i < 10; ++i) rows += gb.collect(100, 40);
  });
  ta.join();
  tb.join();
  EXPECT_EQ(rows.load(), kObjects);
  const auto removed = media.removed();
  EXPECT_EQ(removed.size(), static_cast<size_t>(kObjects));
  for (const auto& [id, count] : removed) EXPECT_EQ(count, 1) << id;
}

TEST_P(JobClaimsTest, BytesOfACrashedCollectionAreDeletedByAnotherInstance) {
  a_->write([&](store::WriteTransaction& tx) { tx.put_object(object("o1", "backend-1", 10)); });
  // Instance A removed the row, claimed the bytes, and died before deleting them.
  a_->write([&](store::WriteTransaction& tx) { tx.take_garbage_objects(100, 10); });
  a_->write([&](store::WriteTransaction& tx) {
    ASSERT_EQ(tx.claim_media_deletions(core::JobLease{"A", 300ms}.claim(10)).size(), 1u);
  });
  CountingMediaStore media;
  media::Backends backends;
  backends.add(media);
  core::GarbageCollector gb(*b_, backends, core::JobLease{"B", 10s});
  EXPECT_EQ(gb.collect(100), 0);
  EXPECT_TRUE(media.removed().empty());  // A's lease has not ended
  std::this_thread::sleep_for(350ms);
  EXPECT_EQ(gb.collect(100), 0);
  EXPECT_EQ(media.removed(), (std::map<std::string, int>{{"o1", 1}}));
}

TEST_P(JobClaimsTest, DeletionRequestHeldElsewhereIsLeftAloneUntilItsLeaseEnds) {
  core::Flows flows_a(*a_);
  core::Flows flows_b(*b_);
  flows_a.put(id_of(1), data_flow(id_of(1), id_of(100)), who_);
  a_->write([&](store::WriteTransaction& tx) {
    store::ObjectRecord o = object("obj", "", 0);
    tx.put_object(o);
    for (int i = 0; i < 25; ++i) {
      store::SegmentRecord s;
      s.flow_id = id_of(1);
      s.start_ns = i * 1000;
      s.end_ns = i * 1000 + 1000;
      s.object_id = "obj";
      s.doc = bj::object{{"object_id", "obj"}, {"timerange", "_"}};
      tx.insert_segment(s);
    }
  });
  // Batches of 10 and no budget: the DELETE leaves a request behind.
  core::Deletions a(*a_, flows_a, {0ms, 10, 86400, core::JobLease{"A", 10s}});
  core::Deletions b(*b_, flows_b, {0ms, 10, 86400, core::JobLease{"B", 10s}});
  const auto outcome = a.delete_flow(id_of(1), who_);
  ASSERT_FALSE(outcome.done);
  const std::string request_id(outcome.request.at("id").as_string());
  // Another instance ("C") holds it for 300 ms: neither A nor B touches it meanwhile.
  a_->write([&](store::WriteTransaction& tx) {
    ASSERT_EQ(tx.claim_deletion_requests(core::JobLease{"C", 300ms}.claim(5)).size(), 1u);
  });
  EXPECT_FALSE(a.work(1000ms));
  EXPECT_FALSE(b.work(1000ms));
  EXPECT_EQ(a.get(request_id), outcome.request);
  // Once C's lease has ended, B finishes it (the budget runs out after each batch).
  std::this_thread::sleep_for(350ms);
  int calls = 0;
  while (b.work(0ms) && calls < 100) ++calls;
  EXPECT_GE(calls, 1);
  EXPECT_EQ(a.get(request_id).at("status"), "done");
  a_->read([&](store::Reader& r) { EXPECT_FALSE(r.get_flow(id_of(1))); });
}

// A fake receiver shared by two delivery workers: records every POST per URL and whether two
// deliveries to one URL were ever in flight at once.
class SharedReceiver {
 public:
  jobs::PostSender sender() {
    return [this](const jobs::OutgoingPost& post, const std::atomic<bool>&) {
      {
        std::lock_guard lock(mutex_);
        if (++in_flight_[post.url] > 1) ++overlaps_;
      }
      std::this_thread::sleep_for(1ms);
      std::lock_guard lock(mutex_);
      --in_flight_[post.url];
      const auto body = bj::parse(post.body).as_object();
      if (body.at("event_type") == "flows/created") {
        received_[post.url].push_back(
            std::string(body.at("event").at("flow").at("id").as_string()));
      }
      jobs::PostOutcome outcome;
      outcome.delivered = true;
      outcome.status = 204;
      return outcome;
    };
  }
  std::map<std::string, std::vector<std::string>> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  int overlaps() {
    std::lock_guard lock(mutex_);
    return overlaps_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> in_flight_;
  std::map<std::string, std::vector<std::string>> received_;  // url -> flow ids in order
  int overlaps_ = 0;
};

jobs::WebhookDeliveryOptions delivery_options(const std::string& owner,
                                              std::chrono::milliseconds lease) {
  jobs::WebhookDeliveryOptions o;
  o.concurrency = 3;
  o.poll_interval = 20ms;
  o.lease = core::JobLease{owner, lease};
  return o;
}

TEST_P(JobClaimsTest, TwoDeliveryWorkersDeliverEachEventOncePerRegistration) {
  const std::vector<std::string> urls = {"http://hook.test/1", "http://hook.test/2",
                                         "http://hook.test/3"};
  for (const auto& url : urls) register_hook(url);
  media::Backends backends;
  SharedReceiver receiver;
  jobs::WebhookDelivery wa(*a_, backends, receiver.sender(), delivery_options("A", 10s));
  jobs::WebhookDelivery wb(*b_, backends, receiver.sender(), delivery_options("B", 10s));
  a_->set_event_listener([&wa] { wa.nudge(); });
  b_->set_event_listener([&wb] { wb.nudge(); });
  wa.start();
  wb.start();
  core::Flows flows_a(*a_);
  core::Flows flows_b(*b_);
  constexpr int kFlows = 40;
  std::vector<std::string> expected;  // the flows/created events, in commit order
  for (int i = 1; i <= kFlows; ++i) {
    // Alternate the instance taking the request: both write events and nudge their worker.
    (i % 2 ? flows_a : flows_b).put(id_of(i), data_flow(id_of(i), id_of(1000)), who_);
    expected.push_back(id_of(i));
  }
  EXPECT_TRUE(eventually([&] {
    auto got = receiver.received();
    for (const auto& url : urls) {
      if (got[url].size() < expected.size()) return false;
    }
    return true;
  }, 10000ms));
  std::this_thread::sleep_for(100ms);  // a duplicate would arrive now
  wa.stop();
  wb.stop();
  a_->set_event_listener({});
  b_->set_event_listener({});
  const auto got = receiver.received();
  for (const auto& url : urls) EXPECT_EQ(got.at(url), expected) << url;  // once each, in order
  EXPECT_EQ(receiver.overlaps(), 0);
}

TEST_P(JobClaimsTest, ADeliveryWhoseLeaseWasTakenOverRecordsNoProgress) {
  const int64_t h = register_hook("http://hook.test/slow");
  core::Flows flows(*a_);
  flows.put(id_of(1), data_flow(id_of(1), id_of(1000)), who_);  // sources/created, flows/created
  int64_t created_seq = 0;
  a_->read([&](store::Reader& r) { created_seq = r.events_after(0, 10).back().seq; });
  std::mutex mutex;
  std::condition_variable cv;
  bool entered = false;
  bool go_on = false;
  jobs::PostSender blocking = [&](const jobs::OutgoingPost&, const std::atomic<bool>&) {
    std::unique_lock lock(mutex);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return go_on; });
    jobs::PostOutcome outcome;
    outcome.delivered = true;
    return outcome;
  };
  media::Backends backends;
  // The dispatcher sleeps long between passes, so nothing renews the 200 ms lease: a stall.
  auto options = delivery_options("A", 200ms);
  options.poll_interval = 10s;
  jobs::WebhookDelivery worker(*a_, backends, blocking, options);
  worker.start();
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return entered; }));
  }
  std::this_thread::sleep_for(250ms);
  std::vector<store::WebhookRecord> taken;
  b_->write([&](store::WriteTransaction& tx) {
    taken = tx.claim_webhooks(core::JobLease{"B", 10s}.claim(10));
  });
  ASSERT_EQ(taken.size(), 1u);  // the lease ended: B takes the registration over
  {
    std::lock_guard lock(mutex);
    go_on = true;
  }
  cv.notify_all();
  std::this_thread::sleep_for(100ms);
  worker.stop();
  EXPECT_EQ(worker.counters().delivered, 1u);  // A's receiver did get it...
  // ...but the progress is B's to record (A only passed the filtered sources/created over).
  EXPECT_EQ(hook(h).cursor, created_seq - 1);
  b_->write([&](store::WriteTransaction& tx) {
    EXPECT_TRUE(tx.set_webhook_progress(h, "B", created_seq, 0, 0, ""));
  });
}

INSTANTIATE_TEST_SUITE_P(Sqlite, JobClaimsTest, ::testing::Values("sqlite"));
// Named so that make test-pg's filter (Postgres*) runs these.
INSTANTIATE_TEST_SUITE_P(Postgres, JobClaimsTest, ::testing::Values("postgres"));

}  // namespace
}  // namespace tams
