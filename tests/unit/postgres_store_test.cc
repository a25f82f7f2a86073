// The PostgreSQL store. Routing and redaction are pure and always run; the rest needs a server:
// TAMS_TEST_PG_URL (and TAMS_TEST_PG_REPLICA_URL, a streaming replica of it) as set by
// `make test-pg` (tests/pg/pg_cluster.sh); without it those tests are skipped.
#include "tams/store/postgres/postgres_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pg_test_database.h"
#include "tams/store/postgres/connection.h"
#include "tams/store/postgres/read_routing.h"
#include "tams/store/read_affinity.h"
#include "tams/store/unavailable.h"

namespace tams::store::postgres {
namespace {

using boost::json::object;

// ---- Read routing (pure) ----

struct RoutingCase {
  const char* what;
  bool primary_up;
  std::vector<ReplicaState> replicas;
  bool pinned;
  size_t rotation;
  std::vector<int> expected;
};

TEST(PostgresReadRouting, OrderTable) {
  const ReplicaState fresh{true, true, false, 10};
  const ReplicaState lagging{true, true, false, 5000};
  const ReplicaState unknown_lag{true, true, false, -1};
  const ReplicaState down{false, true, false, 0};
  const ReplicaState promoted{true, false, true, 0};
  const ReplicaState unchecked{true, false, false, -1};  // answered a read, not yet checked
  const std::vector<RoutingCase> cases = {
      {"no replicas: the primary", true, {}, false, 0, {kPrimary}},
      {"a fresh replica first, the primary as fallback", true, {fresh}, false, 0, {0, kPrimary}},
      {"round-robin over fresh replicas", true, {fresh, fresh}, false, 1, {1, 0, kPrimary}},
      {"lagging replicas come last", true, {lagging, fresh}, false, 0, {1, kPrimary, 0}},
      {"unknown lag is not fresh", true, {unknown_lag}, false, 0, {kPrimary, 0}},
      {"down replicas come last", true, {down}, false, 0, {kPrimary, 0}},
      {"a promoted replica is never read from", true, {promoted}, false, 0, {kPrimary}},
      {"an unchecked replica is a last resort", false, {unchecked}, false, 0, {kPrimary, 0}},
      {"pinned: the primary first", true, {fresh}, true, 0, {kPrimary, 0}},
      {"primary down: lag does not matter",
       false,
       {lagging, unknown_lag},
       false,
       0,
       {0, 1, kPrimary}},
      {"primary down and pinned: replicas first", false, {fresh}, true, 0, {0, kPrimary}},
      {"everything down: the primary, then the rest",
       false,
       {down, fresh},
       false,
       0,
       {1, kPrimary, 0}},
  };
  for (const RoutingCase& c : cases) {
    EXPECT_EQ(read_order(c.primary_up, c.replicas, 1000, c.pinned, c.rotation), c.expected)
        << c.what;
  }
}

TEST(PostgresReadRouting, ReplayLagFromWalPositions) {
  const std::vector<WalSample> samples = {{100, 1000}, {200, 2000}, {300, 3000}};
  EXPECT_EQ(replay_lag_ms(300, samples, 3100, 99999), 0) << "caught up with the newest sample";
  EXPECT_EQ(replay_lag_ms(400, samples, 3100, 99999), 0) << "ahead of the sample";
  EXPECT_EQ(replay_lag_ms(250, samples, 3100, 99999), 100) << "lacks what the primary had at 3000";
  EXPECT_EQ(replay_lag_ms(100, samples, 3100, 99999), 1100);
  EXPECT_EQ(replay_lag_ms(50, samples, 3100, 777), 777) << "older than every sample: time lag";
  EXPECT_EQ(replay_lag_ms(50, {}, 3100, 777), 777) << "no samples (primary down): time lag";
  EXPECT_EQ(replay_lag_ms(-1, samples, 3100, 777), 777) << "nothing replayed: time lag";
}

TEST(PostgresRedaction, PasswordsNeverShow) {
  EXPECT_EQ(redact_url("postgres://tams:s3cret@db:5432/tams"), "postgres://tams:***@db:5432/tams");
  EXPECT_EQ(redact_url("postgresql://tams@db/tams"), "postgresql://tams@db/tams");
  EXPECT_EQ(redact_url("postgres://db/tams?user=u&password=s3cret&sslmode=require"),
            "postgres://db/tams?user=u&password=***&sslmode=require");
  EXPECT_EQ(redact_url("host=db password=s3cret dbname=tams"), "host=db password=*** dbname=tams");
  EXPECT_EQ(redact_url("postgres://u:p%40ss@db/x").find("p%40ss"), std::string::npos);
  EXPECT_EQ(redact_url("postgres://u:p@ss@db/x"), "postgres://u:***@db/x");
  EXPECT_EQ(redact_url("postgres://db?password=s3cret"), "postgres://db?password=***");
}

TEST(PostgresStoreOpen, UnreachablePrimaryIsUnavailableAndRedacted) {
  PostgresOptions options;
  options.primary = "postgres://tams:s3cret@127.0.0.1:1/tams";
  try {
    PostgresStore::open(options);
    FAIL() << "opened an unreachable primary";
  } catch (const Unavailable& e) {
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
}

// ---- Against a server ----

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::PgTestDatabase::server().empty()) {
      GTEST_SKIP() << "TAMS_TEST_PG_URL is not set (make test-pg sets it)";
    }
    database_ = std::make_unique<test::PgTestDatabase>();
    url_ = database_->url();
  }

  void TearDown() override {
    stores_.clear();
    database_.reset();
  }

  PostgresStore& open(PostgresOptions options = {}) {
    if (options.primary.empty()) options.primary = url_;
    stores_.push_back(PostgresStore::open(options));
    return *stores_.back();
  }

  // One row, one column of `sql` on the primary, outside any store.
  std::string scalar(const std::string& sql) {
    Connection db(url_, "test");
    return db.query("scalar", sql).text(0, 0);
  }

  std::unique_ptr<test::PgTestDatabase> database_;
  std::string url_;
  std::vector<std::unique_ptr<PostgresStore>> stores_;
};

object flow_doc(const std::string& id) {
  return object{{"id", id},
                {"source_id", "00000000-0000-4000-8000-000000000001"},
                {"format", "urn:x-nmos:format:data"}};
}

ObjectRecord stored_object(const std::string& id) {
  ObjectRecord o;
  o.id = id;
  o.storage_id = "local";
  return o;
}

SegmentRecord segment(const std::string& flow, int64_t start, int64_t end,
                      const std::string& object_id) {
  SegmentRecord s;
  s.flow_id = flow;
  s.start_ns = start;
  s.end_ns = end;
  s.object_id = object_id;
  s.doc = object{{"object_id", object_id},
                 {"timerange", "[" + std::to_string(start) + ":0_" + std::to_string(end) + ":0)"}};
  return s;
}

TEST_F(PostgresStoreTest, MigrationsUnderConcurrentStartApplyOnce) {
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<PostgresStore>> stores(4);
  std::atomic<int> failures{0};
  for (size_t i = 0; i < stores.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        PostgresOptions options;
        options.primary = url_;
        stores[i] = PostgresStore::open(options);
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM schema_migrations"), "5");
  EXPECT_EQ(scalar("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"),
            "1,2,3,4,5");
}

TEST_F(PostgresStoreTest, NewerSchemaIsRefused) {
  open();
  stores_.clear();
  Connection(url_, "test").exec("bump", "INSERT INTO schema_migrations VALUES (99, 'x', now())");
  PostgresOptions options;
  options.primary = url_;
  try {
    PostgresStore::open(options);
    FAIL() << "opened a database with a newer schema";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresStoreTest, RoundTripAndByteOrderPaging) {
  PostgresStore& store = open();
  // Byte order, as in SQLite: "B..." < "a..." whatever the database's locale.
  const std::vector<std::string> ids = {"a-flow", "B-flow", "c-flow", "_flow"};
  store.write([&](WriteTransaction& txn) {
    for (const std::string& id : ids) {
      object doc = flow_doc(id);
      doc["tags"] = object{{"group", "g"}};
      txn.put_flow(doc);
    }
    txn.put_setting("name", "n1");
  });
  std::vector<std::string> seen;
  model::PageRequest page{"", 2};
  for (;;) {
    model::Page<Document> result;
    store.read([&](Reader& reader) {
      FlowFilter filter;
      filter.tags.equals.emplace_back("group", "g");
      result = reader.list_flows(filter, page);
    });
    for (const Document& d : result.items) seen.push_back(std::string(d.at("id").as_string()));
    if (result.next.empty()) break;
    page.after = result.next;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"B-flow", "_flow", "a-flow", "c-flow"}));
  store.read([&](Reader& reader) {
    EXPECT_EQ(reader.get_setting("name").value_or(""), "n1");
    EXPECT_FALSE(reader.get_flow("missing"));
  });
}

TEST_F(PostgresStoreTest, ExceptionRollsBackAndNestedWriteIsRefused) {
  PostgresStore& store = open();
  EXPECT_THROW(store.write([&](WriteTransaction& txn) {
    txn.put_flow(flow_doc("f1"));
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  store.read([&](Reader& reader) { EXPECT_FALSE(reader.get_flow("f1")); });
  EXPECT_THROW(store.write([&](WriteTransaction&) { store.write([](WriteTransaction&) {}); }),
               std::logic_error);
  store.write([&](WriteTransaction& txn) { txn.put_flow(flow_doc("f2")); });
  store.read([&](Reader& reader) { EXPECT_TRUE(reader.get_flow("f2")); });
}

// tams_stored's counts follow committed writes only (segments per transaction, flows by
// trigger); the pool and readiness report the primary by host:port.
TEST_F(PostgresStoreTest, StoredCountsPoolUsageAndReadiness) {
  PostgresStore& store = open();
  const StoredCounts before = store.stored_counts();
  store.write([&](WriteTransaction& txn) {
    txn.put_flow(flow_doc("f1"));
    txn.put_object(stored_object("o1"));
    txn.insert_segment(segment("f1", 0, 10, "o1"));
    txn.insert_segment(segment("f1", 10, 20, "o1"));
    txn.insert_segment(segment("f1", 20, 30, "o1"));
  });
  EXPECT_THROW(store.write([&](WriteTransaction& txn) {
    txn.insert_segment(segment("f1", 30, 40, "o1"));
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  StoredCounts after = store.stored_counts();
  EXPECT_EQ(after.segments - before.segments, 3);
  EXPECT_EQ(after.flows - before.flows, 1);
  store.write([&](WriteTransaction& txn) {
    txn.delete_segments("f1", time::TimeRange::half_open(0, 20), std::nullopt, 10);
  });
  EXPECT_EQ(store.stored_counts().segments - before.segments, 1);
  store.write([&](WriteTransaction& txn) { txn.delete_flow("f1"); });
  EXPECT_EQ(store.stored_counts().flows, before.flows);

  const std::vector<PoolConnections> pool = store.pool_usage();
  ASSERT_EQ(pool.size(), 2u);
  const std::string address = endpoint_address(url_);
  EXPECT_EQ(address.rfind("127.0.0.1:", 0), 0u) << address;
  for (const PoolConnections& p : pool) {
    EXPECT_EQ(p.endpoint, address);
    EXPECT_EQ(p.role, "primary");
  }
  EXPECT_EQ(pool[0].state, "in_use");
  EXPECT_EQ(pool[0].count, 0);
  EXPECT_GE(pool[1].count, 1);  // idle after the writes
  EXPECT_EQ(store.not_ready(), std::nullopt);

  EXPECT_EQ(endpoint_address("postgres://tams:s3cret@127.0.0.1:1/tams"), "127.0.0.1:1");
  EXPECT_EQ(endpoint_address("host=db dbname=tams"), "db:5432");
}

// Writers on two stores (as two tams instances would be) check for overlap, then insert: the
// advisory lock makes the check and the insert one step, so exactly one overlapping segment
// goes in, and event seqs commit in ascending order.
TEST_F(PostgresStoreTest, WritesAreSerializedAcrossInstances) {
  PostgresStore& a = open();
  PostgresStore& b = open();
  a.write([&](WriteTransaction& txn) {
    txn.put_object(stored_object("obj"));
    WebhookRecord hook;
    hook.url = "http://127.0.0.1:1/hook";
    hook.doc = object{{"url", hook.url}};
    txn.put_webhook(hook);
  });
  std::atomic<int> inserted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      PostgresStore& store = i % 2 == 0 ? a : b;
      store.write([&](WriteTransaction& txn) {
        const int64_t start = i * 10;  // every range overlaps every other one
        if (txn.segment_overlaps("flow", start, start + 100)) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // widen any race
        txn.insert_segment(segment("flow", start, start + 100, "obj"));
        EventRecord event;
        event.type = "flows/segments_added";
        event.timestamp = "2026-01-01T00:00:00Z";
        txn.add_event(event);
        ++inserted;
      });
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(inserted.load(), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM segments"), "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM events"), "1");
}

TEST_F(PostgresStoreTest, TimelineStatementsSeekTheirIndexes) {
  PostgresStore& store = open();
  store.write([&](WriteTransaction& txn) {
    for (int o = 0; o < 20; ++o) txn.put_object(stored_object("obj" + std::to_string(o)));
  });
  // 8 flows x 1,000 segments, so that a sequential scan would be the planner's worst choice.
  for (int f = 0; f < 8; ++f) {
    store.write([&](WriteTransaction& txn) {
      for (int i = 0; i < 1000; ++i) {
        txn.insert_segment(segment("flow" + std::to_string(f), i * 10, i * 10 + 10,
                                   "obj" + std::to_string(i % 20)));
      }
    });
  }
  Connection db(url_, "test");
  db.exec("analyze", "ANALYZE");
  struct PlanCase {
    const char* name;
    const char* params;  // the statement's parameters as an SQL list
    const char* index;
  };
  const std::vector<PlanCase> cases = {
      {"kListSegments", "'flow3', 5000, 6000, 11", "segments_pkey"},
      {"kListSegmentsReverse", "'flow3', 5000, 6000, 11", "segments_pkey"},
      {"kListObjectSegments", "'flow3', 5000, 6000, 11, 'obj4'", "segments_by_object"},
      {"kListObjectSegmentsReverse", "'flow3', 5000, 6000, 11, 'obj4'", "segments_by_object"},
      {"kSegmentStartingBefore", "'flow3', 5000", "segments_pkey"},
      {"kSelectSegmentsFrom", "'flow3', 5000, 6000, 11", "segments_pkey"},
      {"kSelectObjectSegmentsFrom", "'flow3', 5000, 6000, 11, 'obj4'", "segments_by_object"},
      {"kSegmentAtOrBefore", "'flow3', 5000", "segments_pkey"},
      {"kLastSegmentStartingBefore", "'flow3', 5000", "segments_pkey"},
      {"kFirstSegmentStartingIn", "'flow3', 5000, 6000", "segments_pkey"},
  };
  for (const PlanCase& c : cases) {
    std::string sql;
    for (const NamedSql& named : timeline_statements()) {
      if (named.name == c.name) sql = named.sql;
    }
    ASSERT_FALSE(sql.empty()) << c.name;
    const std::string statement = std::string("plan_") + c.name;
    db.exec("prepare", "PREPARE " + statement + " AS " + sql);
    // The generic plan is what a prepared statement settles on after five executions.
    db.exec("generic", "SET plan_cache_mode = force_generic_plan");
    const Result plan = db.query("explain", "EXPLAIN EXECUTE " + statement + "(" + c.params + ")");
    std::string text;
    for (int row = 0; row < plan.rows(); ++row) text += plan.text(row, 0) + "\n";
    EXPECT_NE(text.find(c.index), std::string::npos) << c.name << ":\n" << text;
    EXPECT_EQ(text.find("Seq Scan on segments"), std::string::npos) << c.name << ":\n" << text;
    EXPECT_EQ(text.find("Sort"), std::string::npos) << c.name << ":\n" << text;
  }
}

TEST_F(PostgresStoreTest, SegmentPagesMatchBruteForce) {
  PostgresStore& store = open();
  std::mt19937_64 rng(11);
  std::vector<SegmentRecord> all;
  int64_t t = -3000;
  store.write([&](WriteTransaction& txn) {
    txn.put_object(stored_object("o"));
    for (int i = 0; i < 300; ++i) {
      const int64_t start = t + static_cast<int64_t>(rng() % 3);
      const int64_t end = start + 1 + static_cast<int64_t>(rng() % 20);
      all.push_back(segment("f", start, end, "o"));
      txn.insert_segment(all.back());
      t = end;
    }
  });
  for (int q = 0; q < 40; ++q) {
    const int64_t a = -3500 + static_cast<int64_t>(rng() % 7000);
    const int64_t b = a + static_cast<int64_t>(rng() % 2000);
    SegmentQuery query;
    query.flow_id = "f";
    query.timerange = time::TimeRange::half_open(a, b);
    query.reverse_order = q % 2 == 1;
    query.page.limit = 1 + static_cast<int64_t>(rng() % 9);
    std::vector<int64_t> expected;
    for (const SegmentRecord& s : all) {
      if (s.start_ns < b && s.end_ns > a) expected.push_back(s.start_ns);
    }
    if (query.reverse_order) std::reverse(expected.begin(), expected.end());
    std::vector<int64_t> got;
    store.read([&](Reader& reader) {
      for (;;) {
        const model::Page<SegmentRecord> page = reader.list_segments(query);
        for (const SegmentRecord& s : page.items) {
          got.push_back(s.start_ns);
          EXPECT_EQ(s.storage_id, "local");
        }
        if (page.next.empty()) break;
        query.page.after = page.next;
      }
    });
    EXPECT_EQ(got, expected) << "[" << a << ", " << b << ")";
  }
}

TEST_F(PostgresStoreTest, ReadsFallBackWhenAReplicaIsDown) {
  PostgresOptions options;
  options.replicas = {"postgres://nobody:s3cret@127.0.0.1:1/none"};
  options.read_primary_after_write_ms = 0;
  PostgresStore& store = open(options);
  const std::vector<EndpointStatus> status = store.endpoints();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_TRUE(status[0].up);
  EXPECT_FALSE(status[1].up);
  EXPECT_EQ(status[1].label.find("s3cret"), std::string::npos);
  ReadAffinity client("client");
  store.write([&](WriteTransaction& txn) { txn.put_setting("k", "v"); });
  for (int i = 0; i < 5; ++i) {
    store.read([&](Reader& reader) { EXPECT_EQ(reader.get_setting("k").value_or(""), "v"); });
  }
}

// Replay paused on the replica: reads that see the old value came from it. With a read-your-writes
// window, the write is visible at once (the primary serves), and the replica after it.
TEST_F(PostgresStoreTest, ReplicaServesReadsAndThePinnedWindowReadsThePrimary) {
  const char* replica_env = std::getenv("TAMS_TEST_PG_REPLICA_URL");
  const std::string replica_base = replica_env != nullptr ? replica_env : "";
  if (replica_base.empty()) GTEST_SKIP() << "TAMS_TEST_PG_REPLICA_URL is not set";
  const std::string replica = test::PgTestDatabase::with_database(replica_base, database_->name());
  PostgresStore& seed = open();
  seed.write([&](WriteTransaction& txn) { txn.put_setting("k", "old"); });
  // Wait for the new database and the value to reach the replica.
  bool replicated = false;
  for (int i = 0; i < 100 && !replicated; ++i) {
    try {
      Connection direct(replica, "replica");
      replicated = direct.query("k", "SELECT value FROM settings WHERE key = 'k'").rows() == 1;
    } catch (const std::exception&) {
    }
    if (!replicated) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(replicated);

  PostgresOptions options;
  options.replicas = {replica};
  options.replica_max_lag_ms = 600000;  // a paused replica stays eligible
  options.read_primary_after_write_ms = 1500;
  PostgresStore& store = open(options);
  std::vector<EndpointStatus> status = store.endpoints();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_TRUE(status[1].up);
  EXPECT_TRUE(status[1].in_recovery);
  EXPECT_GE(status[1].lag_ms, 0);

  Connection control(replica, "replica");
  control.query("pause", "SELECT pg_wal_replay_pause()");
  struct Resume {
    Connection& c;
    ~Resume() {
      try {
        c.query("resume", "SELECT pg_wal_replay_resume()");
      } catch (...) {
      }
    }
  } resume{control};

  ReadAffinity client("client");  // as http/ sets it for an authenticated request
  store.write([&](WriteTransaction& txn) { txn.put_setting("k", "new"); });
  store.check_health();
  auto value = [&] {
    std::string v;
    store.read([&](Reader& reader) { v = reader.get_setting("k").value_or(""); });
    return v;
  };
  {
    ReadAffinity other("someone-else");
    EXPECT_EQ(value(), "old") << "another client's reads are not pinned by this write";
  }
  EXPECT_EQ(value(), "new") << "inside the window, the writer's reads go to the primary";
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  store.check_health();
  EXPECT_EQ(value(), "old") << "after the window, the (paused) replica serves";
  {
    ReadAffinity background("");
    EXPECT_EQ(value(), "new") << "reads without a key (background jobs) go to the primary";
  }
  control.query("resume", "SELECT pg_wal_replay_resume()");
  bool caught_up = false;
  for (int i = 0; i < 100 && !caught_up; ++i) {
    caught_up = value() == "new";
    if (!caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(caught_up);
  // A standby refuses writes.
  EXPECT_THROW(control.exec("write", "CREATE TABLE nope (x int)"), std::runtime_error);
}

// ---- Change notices between instances ----

// Changes a listener was called with, for waiting on them.
class ChangeLog {
 public:
  void add(const Change &change) {
    std::lock_guard lock(mutex_);
    changes_.push_back(change);
    cv_.notify_all();
  }
  // True once `change` arrived, within 5 s.
  bool wait_for(const Change &change) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] {
      return std::find(changes_.begin(), changes_.end(), change) != changes_.end();
    });
  }
  std::vector<Change> all() {
    std::lock_guard lock(mutex_);
    return changes_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Change> changes_;
};

bool eventually(const std::function<bool()> &condition) {
  for (int i = 0; i < 500 && !condition(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

TEST_F(PostgresStoreTest, OtherInstancesHearOfCommittedChangesOnly) {
  PostgresStore &a = open();
  PostgresStore &b = open();
  ChangeLog heard_by_a;
  ChangeLog heard_by_b;
  a.set_change_listener([&](const Change &c) { heard_by_a.add(c); });
  b.set_change_listener([&](const Change &c) { heard_by_b.add(c); });
  ASSERT_TRUE(eventually([&] { return a.listening_for_changes() && b.listening_for_changes(); }));

  a.write([&](WriteTransaction &txn) {
    txn.put_object(stored_object("obj"));
    txn.insert_segment(segment("f1", 0, 10, "obj"));
    txn.set_segments_updated("f1", "2026-01-01T00:00:00Z");
  });
  EXPECT_TRUE(heard_by_b.wait_for({Change::Kind::kSegments, "f1"}));
  a.write([&](WriteTransaction &txn) {
    object source{{"id", "s1"}, {"format", "urn:x-nmos:format:data"}};
    txn.put_source(source);
  });
  EXPECT_TRUE(heard_by_b.wait_for({Change::Kind::kSource, "s1"}));
  // A rolled-back transaction announces nothing; a flow written after it is
  // heard.
  EXPECT_THROW(a.write([&](WriteTransaction &txn) {
    txn.delete_flow("f1");
    throw std::runtime_error("rolled back");
  }),
               std::runtime_error);
  a.write([&](WriteTransaction &txn) { txn.put_flow(flow_doc("f2")); });
  EXPECT_TRUE(heard_by_b.wait_for({Change::Kind::kDocuments, ""}));
  for (const Change &change : heard_by_b.all()) {
    EXPECT_NE(change.kind, Change::Kind::kFlowDeleted) << "heard of a rolled-back deletion";
  }
  // Each hears the other, never itself.
  b.write([&](WriteTransaction &txn) { txn.delete_flow("f2"); });
  EXPECT_TRUE(heard_by_a.wait_for({Change::Kind::kFlowDeleted, "f2"}));
  EXPECT_EQ(heard_by_a.all().size(), 1u);
  // A bulk write is one "everything".
  a.write([&](WriteTransaction &txn) {
    for (int i = 0; i < 400; ++i) {
      txn.insert_segment(segment(std::string(30, 'b') + std::to_string(i), 0, 10, "obj"));
    }
  });
  EXPECT_TRUE(heard_by_b.wait_for({Change::Kind::kEverything, ""}));
}

TEST_F(PostgresStoreTest, ALostListeningConnectionComesBackWithEverything) {
  PostgresStore &a = open();
  PostgresStore &b = open();
  ChangeLog heard;
  b.set_change_listener([&](const Change &c) { heard.add(c); });
  ASSERT_TRUE(eventually([&] { return b.listening_for_changes(); }));
  scalar(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE query = 'LISTEN tams_changes' AND datname = current_database()");
  EXPECT_TRUE(heard.wait_for({Change::Kind::kEverything, ""}))
      << "no kEverything after listening again";
  ASSERT_TRUE(eventually([&] { return b.listening_for_changes(); }));
  a.write([&](WriteTransaction &txn) {
    object source{{"id", "s9"}, {"format", "urn:x-nmos:format:data"}};
    txn.put_source(source);
  });
  EXPECT_TRUE(heard.wait_for({Change::Kind::kSource, "s9"}));
  b.set_change_listener(nullptr);
  EXPECT_FALSE(b.listening_for_changes());
}

}  // namespace
}  // namespace tams::store::postgres
