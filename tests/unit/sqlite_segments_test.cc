// SqliteStore: segments, objects and deletion requests (migration 2).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tams/store/sqlite/migrations.h"
#include "tams/store/sqlite/sqlite_store.h"

namespace tams::store::sqlite {
namespace {

using boost::json::object;
using time::TimeRange;

constexpr int64_t kMin = TimeRange::kUnboundedStart;
constexpr int64_t kMax = TimeRange::kUnboundedEnd;

std::string flow_id(int n) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "00000000-0000-4000-8000-%012d", n);
  return buffer;
}

object flow_doc(const std::string& id) {
  return object{{"id", id}, {"source_id", "source"}, {"format", "urn:x-nmos:format:video"}};
}

SegmentRecord segment(const std::string& flow, int64_t start, int64_t end,
                      const std::string& object_id) {
  SegmentRecord s;
  s.flow_id = flow;
  s.start_ns = start;
  s.end_ns = end;
  s.object_id = object_id;
  s.doc = object{{"object_id", object_id},
                 {"timerange", TimeRange::half_open(start, end).to_string()},
                 {"ts_offset", "0:0"}};
  return s;
}

ObjectRecord stored_object(const std::string& id, const std::string& storage_id = "store-1",
                           const std::string& allocated_for = "", int64_t expires_at = 0) {
  ObjectRecord o;
  o.id = id;
  o.storage_id = storage_id;
  o.allocated_for_flow = allocated_for;
  o.expires_at = expires_at;
  return o;
}

SegmentQuery query_of(const std::string& flow, TimeRange range = TimeRange::eternity(),
                      bool reverse = false, int64_t limit = 100) {
  SegmentQuery q;
  q.flow_id = flow;
  q.timerange = range;
  q.reverse_order = reverse;
  q.page.limit = limit;
  return q;
}

TimeRange parse(const std::string& text) {
  std::string error;
  std::optional<TimeRange> range = TimeRange::parse(text, &error);
  if (!range) throw std::invalid_argument(text + ": " + error);
  return *range;
}

std::vector<int64_t> starts(const std::vector<SegmentRecord>& segments) {
  std::vector<int64_t> out;
  for (const SegmentRecord& s : segments) out.push_back(s.start_ns);
  return out;
}

// A plain connection to the store's file, for checking tables and query plans.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("raw open");
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  sqlite3* handle() { return db_; }

  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error != nullptr ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error(sql + ": " + message);
    }
  }

  int64_t scalar(const std::string& sql) {
    sqlite3_stmt* stmt = prepare(sql);
    const int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return value;
  }

  // The detail column of EXPLAIN QUERY PLAN, one line per step; every parameter bound to 1.
  std::vector<std::string> plan(std::string_view sql) {
    sqlite3_stmt* stmt = prepare("EXPLAIN QUERY PLAN " + std::string(sql));
    for (int i = 1; i <= sqlite3_bind_parameter_count(stmt); ++i) sqlite3_bind_int(stmt, i, 1);
    std::vector<std::string> lines;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      lines.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)));
    }
    sqlite3_finalize(stmt);
    return lines;
  }

  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    }
    return stmt;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string_view statement(std::string_view name) {
  for (const NamedSql& named : timeline_statements()) {
    if (named.name == name) return named.sql;
  }
  throw std::invalid_argument("no statement " + std::string(name));
}

class SqliteSegmentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tams-sqlite-segments-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/metadata.db";
    store_ = SqliteStore::open(path_);
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void put_objects(const std::vector<ObjectRecord>& objects) {
    store_->write([&](WriteTransaction& txn) {
      for (const ObjectRecord& o : objects) txn.put_object(o);
    });
  }

  // Creates a stored object for every object id not yet known, then inserts the segments.
  void insert(const std::vector<SegmentRecord>& segments) {
    store_->write([&](WriteTransaction& txn) {
      for (const SegmentRecord& s : segments) {
        if (!txn.get_object(s.object_id)) txn.put_object(stored_object(s.object_id));
        txn.insert_segment(s);
      }
    });
  }

  model::Page<SegmentRecord> list(const SegmentQuery& query) {
    model::Page<SegmentRecord> page;
    store_->read([&](Reader& reader) { page = reader.list_segments(query); });
    return page;
  }

  // Follows `next` from the first page (or query.page.after) to the end, checking each page.
  static std::vector<SegmentRecord> page_through(Reader& reader, SegmentQuery query,
                                                 std::mt19937_64* random_limits = nullptr) {
    std::vector<SegmentRecord> all;
    for (int pages = 0; pages < 100000; ++pages) {
      if (random_limits != nullptr)
        query.page.limit = 1 + static_cast<int64_t>((*random_limits)() % 13);
      model::Page<SegmentRecord> page = reader.list_segments(query);
      EXPECT_EQ(page.limit, query.page.limit);
      EXPECT_LE(static_cast<int64_t>(page.items.size()), query.page.limit);
      for (SegmentRecord& s : page.items) all.push_back(std::move(s));
      if (page.next.empty()) return all;
      EXPECT_EQ(static_cast<int64_t>(page.items.size()), query.page.limit);
      EXPECT_EQ(page.next, std::to_string(all.back().start_ns));
      query.page.after = page.next;
    }
    ADD_FAILURE() << "paging did not end";
    return all;
  }

  std::vector<SegmentRecord> list_all(const SegmentQuery& query) {
    std::vector<SegmentRecord> all;
    store_->read([&](Reader& reader) { all = page_through(reader, query); });
    return all;
  }

  int64_t count(const std::string& sql) {
    RawDb raw(path_);
    return raw.scalar(sql);
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

// ---- Listing ----

TEST_F(SqliteSegmentsTest, PagingVisitsEverySegmentOnceInOrderBothWays) {
  const std::string f = flow_id(1);
  const std::string other = flow_id(2);
  std::mt19937_64 rng(7);
  std::vector<SegmentRecord> segments;
  std::vector<int64_t> expected;
  int64_t t = -5000;
  for (int i = 0; i < 1200; ++i) {
    const int64_t start = t + static_cast<int64_t>(rng() % 3);
    const int64_t end = start + 1 + static_cast<int64_t>(rng() % 20);
    // Even objects are in our storage, odd ones external (no storage_id).
    const std::string object_id = std::string("obj/").append(std::to_string(i % 50));
    segments.push_back(segment(f, start, end, object_id));
    segments.push_back(segment(other, start, end, object_id));  // same times, another flow
    expected.push_back(start);
    t = end;
  }
  std::vector<ObjectRecord> objects;
  for (int i = 0; i < 50; ++i) {
    objects.push_back(
        stored_object(std::string("obj/").append(std::to_string(i)), i % 2 == 0 ? "store-1" : ""));
  }
  put_objects(objects);
  std::shuffle(segments.begin(), segments.end(), rng);
  insert(segments);

  std::vector<int64_t> reversed(expected.rbegin(), expected.rend());
  store_->read([&](Reader& reader) {
    for (int round = 0; round < 3; ++round) {
      EXPECT_EQ(starts(page_through(reader, query_of(f), &rng)), expected);
      EXPECT_EQ(starts(page_through(reader, query_of(f, TimeRange::eternity(), true), &rng)),
                reversed);
    }
    EXPECT_EQ(starts(page_through(reader, query_of(f, TimeRange::eternity(), false, 1))), expected);
    EXPECT_EQ(starts(page_through(reader, query_of(f, TimeRange::eternity(), true, 1200))),
              reversed);

    // Documents and storage ids come back as stored.
    model::Page<SegmentRecord> page = reader.list_segments(query_of(f, TimeRange::eternity()));
    ASSERT_EQ(page.items.size(), 100u);
    for (const SegmentRecord& s : page.items) {
      EXPECT_EQ(s.flow_id, f);
      const SegmentRecord want = segment(f, s.start_ns, s.end_ns, s.object_id);
      EXPECT_TRUE(s.doc.empty());
      EXPECT_EQ(boost::json::parse(s.doc_json).as_object(), want.doc);
      const int n = std::stoi(s.object_id.substr(4));
      EXPECT_EQ(s.storage_id, n % 2 == 0 ? "store-1" : "") << s.object_id;
    }
  });
}

TEST_F(SqliteSegmentsTest, LastFullPageHasNoNextAndCursorsNeedNotBeStarts) {
  const std::string f = flow_id(1);
  std::vector<SegmentRecord> segments;
  for (int i = 0; i < 10; ++i) segments.push_back(segment(f, i * 10, i * 10 + 5, "o"));
  insert(segments);

  model::Page<SegmentRecord> page = list(query_of(f, TimeRange::eternity(), false, 5));
  EXPECT_EQ(page.next, "40");
  SegmentQuery q = query_of(f, TimeRange::eternity(), false, 5);
  q.page.after = "40";
  page = list(q);
  EXPECT_EQ(starts(page.items), (std::vector<int64_t>{50, 60, 70, 80, 90}));
  EXPECT_EQ(page.next, "");

  q.page.after = "44";  // between segments
  EXPECT_EQ(starts(list(q).items), (std::vector<int64_t>{50, 60, 70, 80, 90}));
  q.reverse_order = true;
  EXPECT_EQ(starts(list(q).items), (std::vector<int64_t>{40, 30, 20, 10, 0}));
  q.page.after = std::to_string(kMax);
  EXPECT_EQ(list(q).items.size(), 5u);
  q.reverse_order = false;
  EXPECT_TRUE(list(q).items.empty());
  q.page.after = std::to_string(kMin);
  EXPECT_EQ(list(q).items.size(), 5u);
  q.reverse_order = true;
  EXPECT_TRUE(list(q).items.empty());

  q.page.after = "12x";
  EXPECT_THROW(list(q), std::invalid_argument);
  q.page.after = "99999999999999999999";
  EXPECT_THROW(list(q), std::invalid_argument);
  q.page.after = "";
  q.page.limit = 0;
  EXPECT_THROW(list(q), std::invalid_argument);

  // Unknown flows and the empty range have no segments.
  EXPECT_TRUE(list(query_of(flow_id(9))).items.empty());
  EXPECT_TRUE(list(query_of(f, TimeRange::empty())).items.empty());
  EXPECT_TRUE(list(query_of(f, TimeRange::half_open(30, 30))).items.empty());
}

TEST_F(SqliteSegmentsTest, AdjacentSegmentsDoNotOverlap) {
  const std::string f = flow_id(1);
  insert({segment(f, 0, 10, "a"), segment(f, 10, 20, "b")});
  struct Case {
    std::string range;
    std::vector<int64_t> expected;
  };
  const std::vector<Case> cases = {
      {"[0:0_0:10)", {0}}, {"[0:0_0:10]", {0, 10}}, {"[0:10_0:20)", {10}}, {"(0:9_0:20)", {10}},
      {"(0:9_0:10)", {}},  {"(0:10_0:20)", {10}},   {"[0:20_", {}},        {"(0:18_", {10}},
      {"_0:0]", {0}},      {"_0:0)", {}},           {"(0:19_", {}},        {"_", {0, 10}},
      {"()", {}},          {"[0:9]", {0}},          {"[0:10]", {10}},      {"[0:5_0:15)", {0, 10}},
      {"[-0:5_0:0)", {}},  {"[-0:5_0:0]", {0}},     {"[0:19_0:25)", {10}},
  };
  for (const Case& c : cases) {
    const TimeRange range = parse(c.range);
    EXPECT_EQ(starts(list_all(query_of(f, range))), c.expected) << c.range;
    std::vector<int64_t> reversed(c.expected.rbegin(), c.expected.rend());
    EXPECT_EQ(starts(list_all(query_of(f, range, true))), reversed) << c.range;
  }
  store_->read([&](Reader& reader) {
    EXPECT_TRUE(reader.has_segments(f));
    EXPECT_FALSE(reader.has_segments(flow_id(2)));
    EXPECT_FALSE(reader.segment_overlaps(f, 20, 30));
    EXPECT_FALSE(reader.segment_overlaps(f, -5, 0));
    EXPECT_FALSE(reader.segment_overlaps(f, 5, 5));
    EXPECT_FALSE(reader.segment_overlaps(flow_id(2), kMin, kMax));
    EXPECT_TRUE(reader.segment_overlaps(f, 9, 10));
    EXPECT_TRUE(reader.segment_overlaps(f, 19, 21));
    EXPECT_TRUE(reader.segment_overlaps(f, -5, 1));
    EXPECT_TRUE(reader.segment_overlaps(f, kMin, kMax));
    EXPECT_TRUE(reader.segment_overlaps(f, 3, 4));
  });
}

// Random non-overlapping segments (some with unbounded ends) against a brute-force reference,
// with random inclusive / exclusive / unbounded query ends, object filters, directions, limits
// and cursors.
TEST_F(SqliteSegmentsTest, RandomQueriesMatchBruteForce) {
  std::mt19937_64 rng(20240612);
  constexpr int kFlows = 6;
  const std::vector<std::string> objects = {"o1", "o2", "o3", "o/4"};
  std::map<std::string, std::vector<SegmentRecord>> by_flow;
  std::vector<SegmentRecord> all;
  for (int f = 0; f < kFlows; ++f) {
    int64_t t = static_cast<int64_t>(rng() % 10);
    const int n = f == 0 ? 0 : static_cast<int>(rng() % 80);
    for (int i = 0; i < n; ++i) {
      int64_t start = t + static_cast<int64_t>(rng() % 4);  // gaps of 0 to 3
      int64_t end = start + 1 + static_cast<int64_t>(rng() % 6);
      if (i == 0 && f % 2 == 1) start = kMin;
      if (i == n - 1 && f % 3 == 1) end = kMax;
      SegmentRecord s = segment(flow_id(f), start, end, objects[rng() % objects.size()]);
      by_flow[s.flow_id].push_back(s);
      all.push_back(s);
      t = end;
    }
  }
  insert(all);

  auto ts = [](int64_t ns) { return time::Timestamp(ns).to_string(); };
  int checked = 0;
  store_->read([&](Reader& reader) {
    for (int q = 0; q < 4000; ++q) {
      const std::string flow = flow_id(static_cast<int>(rng() % kFlows));
      const int64_t a = static_cast<int64_t>(rng() % 320) - 15;
      const int64_t b = a + static_cast<int64_t>(rng() % 40) - 3;
      std::string text;
      if (rng() % 10 != 0) text += (rng() % 2 ? "[" : "(") + ts(a);
      text += "_";
      if (rng() % 10 != 0) text += ts(b) + (rng() % 2 ? "]" : ")");
      const TimeRange range = parse(text);

      SegmentQuery query = query_of(flow, range, rng() % 2 == 0);
      if (rng() % 4 == 0) query.object_id = objects[rng() % objects.size()];
      std::optional<int64_t> after;
      if (rng() % 5 == 0) {
        after = static_cast<int64_t>(rng() % 330) - 20;
        query.page.after = std::to_string(*after);
      }

      std::vector<int64_t> expected;
      bool any_overlap = false;
      for (const SegmentRecord& s : by_flow[flow]) {
        if (range.is_empty() || !(s.start_ns < range.end() && range.start() < s.end_ns)) continue;
        any_overlap = true;
        if (query.object_id && s.object_id != *query.object_id) continue;
        if (after && (query.reverse_order ? s.start_ns >= *after : s.start_ns <= *after)) continue;
        expected.push_back(s.start_ns);
      }
      if (query.reverse_order) std::reverse(expected.begin(), expected.end());

      const std::vector<SegmentRecord> got = page_through(reader, query, &rng);
      ASSERT_EQ(starts(got), expected)
          << text << " flow " << flow << " reverse " << query.reverse_order << " object "
          << query.object_id.value_or("-") << " after " << query.page.after;
      for (const SegmentRecord& s : got) {
        if (query.object_id) {
          ASSERT_EQ(s.object_id, *query.object_id);
        }
      }
      if (!range.is_empty()) {
        ASSERT_EQ(reader.segment_overlaps(flow, range.start(), range.end()), any_overlap) << text;
      }
      ++checked;
    }
  });
  EXPECT_EQ(checked, 4000);
}

TEST_F(SqliteSegmentsTest, ObjectFilterSelectsOnlyThatObject) {
  const std::string f = flow_id(1);
  std::vector<SegmentRecord> segments;
  std::vector<int64_t> of_a;
  for (int i = 0; i < 300; ++i) {
    const std::string object_id = i % 3 == 0 ? "a" : (i % 3 == 1 ? "b" : "c");
    segments.push_back(segment(f, i * 10, i * 10 + 10, object_id));
    if (object_id == "a" && i * 10 + 10 > 1005 && i * 10 < 2000) of_a.push_back(i * 10);
  }
  segments.push_back(segment(flow_id(2), 1010, 1020, "a"));  // another flow's segment of a
  insert(segments);
  SegmentQuery q = query_of(f, TimeRange::half_open(1005, 2000), false, 4);
  q.object_id = "a";
  EXPECT_EQ(starts(list_all(q)), of_a);
  q.reverse_order = true;
  std::reverse(of_a.begin(), of_a.end());
  EXPECT_EQ(starts(list_all(q)), of_a);
  q.object_id = "z";
  EXPECT_TRUE(list_all(q).empty());
}

// ---- Writing segments ----

TEST_F(SqliteSegmentsTest, InsertSegmentRefusesMissingObjectDuplicatesAndEmptyRanges) {
  const std::string f = flow_id(1);
  put_objects({stored_object("o")});
  store_->write([&](WriteTransaction& txn) {
    EXPECT_THROW(txn.insert_segment(segment(f, 0, 10, "missing")), std::logic_error);
    EXPECT_FALSE(txn.has_segments(f));
    EXPECT_FALSE(txn.get_object("missing"));
    txn.insert_segment(segment(f, 0, 10, "o"));
    // Same start: a bug of the caller, refused without touching the counts.
    EXPECT_THROW(txn.insert_segment(segment(f, 0, 5, "o")), std::logic_error);
    EXPECT_THROW(txn.insert_segment(segment(f, 20, 20, "o")), std::invalid_argument);
    EXPECT_THROW(txn.insert_segment(segment(f, 30, 25, "o")), std::invalid_argument);
  });
  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.get_object("o")->reference_count, 1);
    const auto page = reader.list_segments(query_of(f));
    ASSERT_EQ(page.items.size(), 1u);
    EXPECT_EQ(page.items[0].end_ns, 10);
  });
  EXPECT_EQ(count("SELECT segment_count FROM object_refs WHERE object_id = 'o'"), 1);
}

TEST_F(SqliteSegmentsTest, DeleteSegmentsRemovesOnlyCoveredSegments) {
  const std::string f = flow_id(1);
  // [0,10) [10,20) [20,30) [30,40) [40,50), and [1000, +inf)
  std::vector<SegmentRecord> segments;
  for (int i = 0; i < 5; ++i) segments.push_back(segment(f, i * 10, i * 10 + 10, "o"));
  segments.push_back(segment(f, 1000, kMax, "o"));
  segments.push_back(segment(flow_id(2), 10, 20, "o"));
  insert(segments);

  std::vector<SegmentRecord> deleted;
  auto remove = [&](const std::string& range, std::optional<std::string> object_id = {},
                    int64_t limit = 1000) {
    store_->write([&](WriteTransaction& txn) {
      deleted = txn.delete_segments(f, parse(range), object_id, limit);
    });
    return starts(deleted);
  };
  EXPECT_EQ(remove("[0:5_0:35)"), (std::vector<int64_t>{10, 20}));  // partial edges survive
  ASSERT_EQ(deleted.size(), 2u);
  EXPECT_EQ(deleted[0].end_ns, 20);
  EXPECT_EQ(deleted[0].object_id, "o");
  EXPECT_EQ(deleted[0].doc, segment(f, 10, 20, "o").doc);
  EXPECT_EQ(deleted[0].flow_id, f);
  EXPECT_EQ(starts(list_all(query_of(f))), (std::vector<int64_t>{0, 30, 40, 1000}));
  EXPECT_EQ(remove("()"), std::vector<int64_t>{});
  EXPECT_EQ(remove("[0:30_0:40)"), std::vector<int64_t>{30});
  EXPECT_EQ(remove("[0:40_0:49)"), std::vector<int64_t>{});  // ends at 50: not covered
  EXPECT_EQ(remove("[0:40_0:50)", "other"), std::vector<int64_t>{});
  EXPECT_EQ(remove("[0:40_0:50)", "o"), std::vector<int64_t>{40});
  EXPECT_EQ(remove("[0:0_0:999999]"), std::vector<int64_t>{0});  // [1000,+inf) not covered
  EXPECT_EQ(remove("[0:1000_"), std::vector<int64_t>{1000});
  EXPECT_TRUE(list_all(query_of(f)).empty());
  EXPECT_EQ(starts(list_all(query_of(flow_id(2)))), std::vector<int64_t>{10});
  store_->read([&](Reader& reader) { EXPECT_EQ(reader.get_object("o")->reference_count, 1); });
  EXPECT_EQ(count("SELECT count(*) FROM object_refs"), 1);
}

TEST_F(SqliteSegmentsTest, DeleteSegmentsWithObjectFilterSkipsOtherObjects) {
  const std::string f = flow_id(1);
  // a[0,10) b[10,20) a[20,30) b[30,40)
  insert({segment(f, 0, 10, "a"), segment(f, 10, 20, "b"), segment(f, 20, 30, "a"),
          segment(f, 30, 40, "b")});
  std::vector<int64_t> got;
  store_->write([&](WriteTransaction& txn) {
    got = starts(txn.delete_segments(f, TimeRange::half_open(0, 25), "a", 100));
  });
  EXPECT_EQ(got, std::vector<int64_t>{0});
  store_->write([&](WriteTransaction& txn) {
    got = starts(txn.delete_segments(f, TimeRange::half_open(0, 40), "b", 100));
  });
  EXPECT_EQ(got, (std::vector<int64_t>{10, 30}));
  EXPECT_EQ(starts(list_all(query_of(f))), std::vector<int64_t>{20});
  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.get_object("a")->reference_count, 1);
    EXPECT_EQ(reader.get_object("b")->reference_count, 0);
    EXPECT_TRUE(reader.object_flows("b", {"", 10}).items.empty());
  });
}

TEST_F(SqliteSegmentsTest, DeleteSegmentsInBatches) {
  const std::string f = flow_id(1);
  std::vector<SegmentRecord> segments;
  for (int i = 0; i < 103; ++i) {
    segments.push_back(
        segment(f, i * 2, i * 2 + 1, std::string("o").append(std::to_string(i % 4))));
  }
  insert(segments);
  std::vector<int64_t> all;
  for (int batch = 0; batch < 100; ++batch) {
    std::vector<SegmentRecord> deleted;
    store_->write([&](WriteTransaction& txn) {
      deleted = txn.delete_segments(f, TimeRange::eternity(), std::nullopt, 7);
    });
    if (deleted.empty()) break;
    EXPECT_LE(deleted.size(), 7u);
    for (int64_t s : starts(deleted)) all.push_back(s);
  }
  ASSERT_EQ(all.size(), 103u);
  for (int i = 0; i < 103; ++i) EXPECT_EQ(all[i], i * 2);
  store_->read([&](Reader& reader) {
    EXPECT_FALSE(reader.has_segments(f));
    EXPECT_EQ(reader.garbage_objects(0, 100).size(), 4u);
  });
  EXPECT_EQ(count("SELECT count(*) FROM object_refs"), 0);
  store_->write([&](WriteTransaction& txn) {
    EXPECT_TRUE(txn.delete_segments(f, TimeRange::eternity(), std::nullopt, 0).empty());
  });
}

// ---- Objects ----

TEST_F(SqliteSegmentsTest, ObjectPutGetReplaceDelete) {
  ObjectRecord o = stored_object("bucket/object-1", "store-1", flow_id(1), 1700000000);
  o.first_referenced_by_flow = flow_id(2);
  o.reference_count = 3;
  o.ever_referenced = true;
  put_objects({o});
  store_->read([&](Reader& reader) {
    std::optional<ObjectRecord> got = reader.get_object(o.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->id, o.id);
    EXPECT_EQ(got->storage_id, "store-1");
    EXPECT_EQ(got->allocated_for_flow, flow_id(1));
    EXPECT_EQ(got->first_referenced_by_flow, flow_id(2));
    EXPECT_EQ(got->reference_count, 3);
    EXPECT_TRUE(got->ever_referenced);
    EXPECT_EQ(got->expires_at, 1700000000);
    EXPECT_FALSE(reader.get_object("bucket/object-2"));
  });
  put_objects({stored_object(o.id, "")});
  store_->read([&](Reader& reader) {
    std::optional<ObjectRecord> got = reader.get_object(o.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->storage_id, "");
    EXPECT_EQ(got->allocated_for_flow, "");
    EXPECT_EQ(got->first_referenced_by_flow, "");
    EXPECT_EQ(got->reference_count, 0);
    EXPECT_FALSE(got->ever_referenced);
    EXPECT_EQ(got->expires_at, 0);
  });
  EXPECT_EQ(count("SELECT count(*) FROM objects WHERE storage_id IS NULL AND "
                  "allocated_for_flow IS NULL AND first_referenced_by_flow IS NULL"),
            1);
  store_->write([&](WriteTransaction& txn) { txn.delete_object(o.id); });
  store_->read([&](Reader& reader) { EXPECT_FALSE(reader.get_object(o.id)); });
  EXPECT_THROW(put_objects({stored_object("")}), std::invalid_argument);
}

TEST_F(SqliteSegmentsTest, ReferencesAreCountedAndObjectsBecomeGarbage) {
  const std::string f1 = flow_id(1), f2 = flow_id(2);
  put_objects({stored_object("x", "store-1", f1, 100)});
  insert({segment(f2, 0, 10, "x")});
  store_->read([&](Reader& reader) {
    ObjectRecord x = *reader.get_object("x");
    EXPECT_EQ(x.first_referenced_by_flow, f2);
    EXPECT_EQ(x.allocated_for_flow, f1);
    EXPECT_TRUE(x.ever_referenced);
    EXPECT_EQ(x.reference_count, 1);
    EXPECT_TRUE(reader.garbage_objects(1000, 10).empty());  // referenced: never expires
  });
  insert({segment(f1, 0, 10, "x"), segment(f1, 10, 20, "x")});
  store_->read([&](Reader& reader) {
    ObjectRecord x = *reader.get_object("x");
    EXPECT_EQ(x.first_referenced_by_flow, f2);  // the first stays
    EXPECT_EQ(x.reference_count, 3);
    EXPECT_EQ(reader.object_flows("x", {"", 10}).items, (std::vector<std::string>{f1, f2}));
  });
  EXPECT_EQ(count("SELECT segment_count FROM object_refs WHERE flow_id = '" + f1 + "'"), 2);

  store_->write([&](WriteTransaction& txn) {
    txn.delete_segments(f2, TimeRange::eternity(), std::nullopt, 100);
  });
  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.get_object("x")->reference_count, 2);
    EXPECT_EQ(reader.object_flows("x", {"", 10}).items, std::vector<std::string>{f1});
    EXPECT_TRUE(reader.garbage_objects(1000, 10).empty());
  });
  store_->write([&](WriteTransaction& txn) {
    txn.delete_segments(f1, TimeRange::half_open(0, 10), std::nullopt, 100);
  });
  EXPECT_EQ(count("SELECT segment_count FROM object_refs WHERE flow_id = '" + f1 + "'"), 1);
  store_->write([&](WriteTransaction& txn) {
    txn.delete_segments(f1, TimeRange::eternity(), std::nullopt, 100);
  });
  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.get_object("x")->reference_count, 0);
    EXPECT_TRUE(reader.object_flows("x", {"", 10}).items.empty());
    std::vector<ObjectRecord> garbage = reader.garbage_objects(0, 10);
    ASSERT_EQ(garbage.size(), 1u);
    EXPECT_EQ(garbage[0].id, "x");
    EXPECT_EQ(garbage[0].storage_id, "store-1");
  });
  // Referenced again: no longer garbage.
  insert({segment(f2, 50, 60, "x")});
  store_->read([&](Reader& reader) {
    EXPECT_TRUE(reader.garbage_objects(1000, 10).empty());
    EXPECT_EQ(reader.get_object("x")->first_referenced_by_flow, f2);
  });
}

TEST_F(SqliteSegmentsTest, GarbageObjectsExpiredAllocationsAndUnreferenced) {
  ObjectRecord unreferenced = stored_object("u1");
  unreferenced.ever_referenced = true;
  ObjectRecord unreferenced2 = unreferenced;
  unreferenced2.id = "u2";
  ObjectRecord live = unreferenced;
  live.id = "live";
  live.reference_count = 2;
  put_objects({stored_object("never", "s", "f", 0), stored_object("e50", "s", "f", 50),
               stored_object("e100", "s", "f", 100), stored_object("e150", "s", "f", 150),
               unreferenced, unreferenced2, live});
  auto ids = [&](int64_t now, int64_t limit) {
    std::vector<std::string> out;
    store_->read([&](Reader& reader) {
      for (const ObjectRecord& o : reader.garbage_objects(now, limit)) out.push_back(o.id);
    });
    return out;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids(10, 100), (Ids{"u1", "u2"}));
  EXPECT_EQ(ids(100, 100), (Ids{"e50", "u1", "u2"}));  // expiry must have passed
  EXPECT_EQ(ids(151, 100), (Ids{"e50", "e100", "e150", "u1", "u2"}));
  EXPECT_EQ(ids(151, 4), (Ids{"e50", "e100", "e150", "u1"}));
  EXPECT_EQ(ids(151, 2), (Ids{"e50", "e100"}));
  EXPECT_EQ(ids(151, 0), Ids{});
  store_->write([](WriteTransaction& txn) {
    txn.delete_object("e50");
    txn.delete_object("u1");
  });
  EXPECT_EQ(ids(151, 100), (Ids{"e100", "e150", "u2"}));
}

TEST_F(SqliteSegmentsTest, ObjectFlowsPaging) {
  std::vector<SegmentRecord> segments;
  std::vector<std::string> expected;
  for (int n = 53; n-- > 0;) {
    segments.push_back(segment(flow_id(n), 0, 10, "shared"));
    if (n % 2 == 0) segments.push_back(segment(flow_id(n), 10, 20, "shared"));
    segments.push_back(segment(flow_id(n), 20, 30, "other"));
  }
  for (int n = 0; n < 53; ++n) expected.push_back(flow_id(n));
  insert(segments);
  store_->read([&](Reader& reader) {
    for (int64_t limit : {1, 7, 53, 100}) {
      std::vector<std::string> all;
      model::PageRequest page{"", limit};
      for (int pages = 0; pages < 100; ++pages) {
        model::Page<std::string> got = reader.object_flows("shared", page);
        EXPECT_EQ(got.limit, limit);
        EXPECT_LE(static_cast<int64_t>(got.items.size()), limit);
        all.insert(all.end(), got.items.begin(), got.items.end());
        if (got.next.empty()) break;
        EXPECT_EQ(got.next, all.back());
        page.after = got.next;
      }
      EXPECT_EQ(all, expected) << limit;
    }
    EXPECT_EQ(reader.object_flows("shared", {flow_id(50) + "x", 10}).items,
              (std::vector<std::string>{flow_id(51), flow_id(52)}));
    EXPECT_TRUE(reader.object_flows("nothing", {"", 10}).items.empty());
    EXPECT_THROW(reader.object_flows("shared", {"", 0}), std::invalid_argument);
    EXPECT_EQ(reader.get_object("shared")->reference_count, 53 + 27);
  });
}

// ---- Deletion requests ----

object deletion_doc(const std::string& id, const std::string& status, const std::string& created,
                    const std::string& expiry) {
  object doc{{"id", id},
             {"flow_id", flow_id(1)},
             {"timerange_to_delete", "_"},
             {"delete_flow", true},
             {"status", status}};
  if (!created.empty()) doc["created"] = created;
  if (!expiry.empty()) doc["expiry"] = expiry;
  return doc;
}

DeletionRequestRecord deletion_request(const std::string& id, const std::string& status,
                                       const std::string& created, const std::string& expiry) {
  return DeletionRequestRecord{id, flow_id(1), deletion_doc(id, status, created, expiry)};
}

TEST_F(SqliteSegmentsTest, DeletionRequestsCrudPendingAndPurge) {
  store_->write([](WriteTransaction& txn) {
    txn.put_deletion_request(deletion_request("r3", "created", "2024-01-03T00:00:00.000000Z",
                                              "2024-02-03T00:00:00.000000Z"));
    txn.put_deletion_request(deletion_request("r1", "done", "2024-01-01T00:00:00.000000Z",
                                              "2024-02-01T00:00:00.000000Z"));
    txn.put_deletion_request(deletion_request("r2b", "started", "2024-01-02T00:00:00.000000Z",
                                              "2024-02-02T12:00:00.000000Z"));
    txn.put_deletion_request(deletion_request("r2a", "error", "2024-01-02T00:00:00.000000Z", ""));
  });
  auto ids = [](const std::vector<DeletionRequestRecord>& requests) {
    std::vector<std::string> out;
    for (const DeletionRequestRecord& r : requests) out.push_back(r.id);
    return out;
  };
  using Ids = std::vector<std::string>;
  store_->read([&](Reader& reader) {
    EXPECT_EQ(ids(reader.list_deletion_requests()), (Ids{"r1", "r2a", "r2b", "r3"}));
    std::optional<DeletionRequestRecord> r3 = reader.get_deletion_request("r3");
    ASSERT_TRUE(r3);
    EXPECT_EQ(r3->flow_id, flow_id(1));
    EXPECT_EQ(r3->doc, deletion_doc("r3", "created", "2024-01-03T00:00:00.000000Z",
                                    "2024-02-03T00:00:00.000000Z"));
    EXPECT_FALSE(reader.get_deletion_request("r9"));
  });

  // The worker claims the pending ones, oldest first, and finishes r2b: it leaves the pending
  // list, and releasing r3 makes it claimable again.
  const LeaseClaim claim{"worker", 1000, 2000, 10};
  store_->write([&](WriteTransaction& txn) {
    std::vector<DeletionRequestRecord> claimed = txn.claim_deletion_requests(claim);
    EXPECT_EQ(ids(claimed), (Ids{"r2b", "r3"}));
    EXPECT_TRUE(txn.update_deletion_request(
        deletion_request("r2b", "done", "2024-01-02T00:00:00.000000Z",
                         "2024-02-02T12:00:00.000000Z"),
        "worker", 0));
    EXPECT_TRUE(txn.update_deletion_request(claimed[1], "worker", 0));
  });
  store_->write([&](WriteTransaction& txn) {
    EXPECT_EQ(ids(txn.claim_deletion_requests(claim)), Ids{"r3"});
  });
  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.get_deletion_request("r2b")->doc.at("status"), "done");
  });

  store_->write([](WriteTransaction& txn) {
    txn.purge_deletion_requests("2024-02-02T12:00:00.000000Z");  // not strictly before: kept
  });
  store_->read([&](Reader& reader) {
    EXPECT_EQ(ids(reader.list_deletion_requests()), (Ids{"r2a", "r2b", "r3"}));
  });
  store_->write(
      [](WriteTransaction& txn) { txn.purge_deletion_requests("2030-01-01T00:00:00.000000Z"); });
  store_->read([&](Reader& reader) {
    EXPECT_EQ(ids(reader.list_deletion_requests()), Ids{"r2a"});  // no expiry: never purged
  });

  DeletionRequestRecord no_status = deletion_request("r5", "created", "", "");
  no_status.doc.erase("status");
  EXPECT_THROW(store_->write([&](WriteTransaction& txn) { txn.put_deletion_request(no_status); }),
               std::invalid_argument);
}

// ---- Flows' segments_updated ----

TEST_F(SqliteSegmentsTest, SegmentsUpdatedIsMergedIntoFlowDocuments) {
  const std::string f = flow_id(1);
  object flow = flow_doc(f);
  flow["segments_updated"] = "2020-01-01T00:00:00.000000Z";  // stale copy inside the document
  store_->write([&](WriteTransaction& txn) {
    txn.put_flow(flow);
    txn.put_flow(flow_doc(flow_id(2)));
  });
  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.get_flow(f)->at("segments_updated"), "2020-01-01T00:00:00.000000Z");
    EXPECT_FALSE(reader.get_flow(flow_id(2))->contains("segments_updated"));
  });
  store_->write([&](WriteTransaction& txn) {
    txn.set_segments_updated(f, "2024-05-01T10:00:00.000000Z");
    txn.set_segments_updated(flow_id(2), "2024-05-02T10:00:00.000000Z");
    txn.set_segments_updated(flow_id(3), "2024-05-03T10:00:00.000000Z");  // no such flow
    EXPECT_EQ(txn.get_flow(f)->at("segments_updated"), "2024-05-01T10:00:00.000000Z");
  });
  auto check = [&](const std::string& first, const std::string& second) {
    store_->read([&](Reader& reader) {
      EXPECT_EQ(reader.get_flow(f)->at("segments_updated").as_string(), std::string_view(first));
      EXPECT_EQ(reader.get_flow(flow_id(2))->at("segments_updated").as_string(),
                std::string_view(second));
      model::Page<Document> page = reader.list_flows({}, {"", 10});
      ASSERT_EQ(page.items.size(), 2u);
      EXPECT_EQ(page.items[0].at("segments_updated").as_string(), std::string_view(first));
      EXPECT_EQ(page.items[1].at("segments_updated").as_string(), std::string_view(second));
      // The rest of the document is untouched.
      Document without = page.items[1];
      without.erase("segments_updated");
      EXPECT_EQ(without, flow_doc(flow_id(2)));
    });
  };
  check("2024-05-01T10:00:00.000000Z", "2024-05-02T10:00:00.000000Z");
  // Replacing the document keeps the column.
  store_->write([&](WriteTransaction& txn) { txn.put_flow(flow); });
  check("2024-05-01T10:00:00.000000Z", "2024-05-02T10:00:00.000000Z");
  EXPECT_EQ(count("SELECT count(*) FROM flows WHERE id = '" + flow_id(3) + "'"), 0);
}

// ---- Transactions ----

TEST_F(SqliteSegmentsTest, RollbackLeavesNothing) {
  const std::string f = flow_id(1);
  store_->write([&](WriteTransaction& txn) {
    txn.put_flow(flow_doc(f));
    txn.put_object(stored_object("kept"));
    txn.insert_segment(segment(f, 0, 10, "kept"));
  });
  EXPECT_THROW(store_->write([&](WriteTransaction& txn) {
    txn.put_object(stored_object("new"));
    txn.insert_segment(segment(f, 10, 20, "new"));
    txn.insert_segment(segment(flow_id(2), 10, 20, "kept"));
    txn.delete_segments(f, TimeRange::half_open(0, 10), std::nullopt, 10);
    txn.set_segments_updated(f, "2024-01-01T00:00:00.000000Z");
    txn.put_deletion_request(deletion_request("r", "created", "", ""));
    txn.delete_object("kept");
    EXPECT_EQ(starts(txn.list_segments(query_of(f)).items), std::vector<int64_t>{10});
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  store_->read([&](Reader& reader) {
    EXPECT_EQ(starts(reader.list_segments(query_of(f)).items), std::vector<int64_t>{0});
    EXPECT_FALSE(reader.has_segments(flow_id(2)));
    EXPECT_FALSE(reader.get_object("new"));
    ASSERT_TRUE(reader.get_object("kept"));
    EXPECT_EQ(reader.get_object("kept")->reference_count, 1);
    EXPECT_EQ(reader.object_flows("kept", {"", 10}).items, std::vector<std::string>{f});
    EXPECT_FALSE(reader.get_flow(f)->contains("segments_updated"));
    EXPECT_TRUE(reader.list_deletion_requests().empty());
  });
  EXPECT_EQ(count("SELECT count(*) FROM object_refs"), 1);
}

// ---- Query plans and cost ----

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST_F(SqliteSegmentsTest, TimelineStatementsSeekTheirIndexes) {
  RawDb raw(path_);
  // Plans that read a whole (partial) index on purpose: it holds exactly the wanted rows.
  const std::set<std::string_view> whole_index_reads = {
      "kSelectUnreferencedObjects", "kSelectDeletionRequests", "kClaimDeletionRequests"};
  std::map<std::string_view, std::string> plans;
  for (const NamedSql& named : timeline_statements()) {
    std::string plan;
    for (const std::string& line : raw.plan(named.sql)) {
      plan += line + "\n";
      EXPECT_FALSE(contains(line, "TEMP B-TREE")) << named.name << ": " << line;
      if (line.rfind("SCAN", 0) == 0 && line != "SCAN CONSTANT ROW") {
        EXPECT_TRUE(whole_index_reads.contains(named.name)) << named.name << ": " << line;
        EXPECT_TRUE(contains(line, "USING INDEX") || contains(line, "USING COVERING INDEX"))
            << named.name << ": " << line;
      }
    }
    plans[named.name] = plan;
  }
  const std::map<std::string_view, std::string_view> expected = {
      {"kSegmentStartingBefore", "SEARCH segments USING PRIMARY KEY (flow_id=? AND start_ns<?)"},
      {"kFlowHasAnySegment", "SEARCH segments USING PRIMARY KEY (flow_id=?)"},
      {"kListSegments", "SEARCH s USING PRIMARY KEY (flow_id=? AND start_ns>? AND start_ns<?)"},
      {"kListSegmentsReverse",
       "SEARCH s USING PRIMARY KEY (flow_id=? AND start_ns>? AND start_ns<?)"},
      {"kListObjectSegments",
       "SEARCH s USING INDEX segments_by_object (object_id=? AND flow_id=? AND start_ns>? AND "
       "start_ns<?)"},
      {"kListObjectSegmentsReverse",
       "SEARCH s USING INDEX segments_by_object (object_id=? AND flow_id=? AND start_ns>? AND "
       "start_ns<?)"},
      {"kSelectSegmentsFrom",
       "SEARCH segments USING PRIMARY KEY (flow_id=? AND start_ns>? AND start_ns<?)"},
      {"kSelectObjectSegmentsFrom",
       "SEARCH segments USING INDEX segments_by_object (object_id=? AND flow_id=? AND "
       "start_ns>? AND start_ns<?)"},
      {"kDeleteSegment", "SEARCH segments USING PRIMARY KEY (flow_id=? AND start_ns=?)"},
      {"kInsertSegment", "SEARCH objects USING PRIMARY KEY (id=?)"},
      {"kReferenceObject", "SEARCH objects USING PRIMARY KEY (id=?)"},
      {"kReleaseObjectRefs", "SEARCH object_refs USING PRIMARY KEY (object_id=? AND flow_id=?)"},
      {"kSelectObjectFlows", "SEARCH object_refs USING PRIMARY KEY (object_id=? AND flow_id>?)"},
      {"kSelectExpiredObjects",
       "SEARCH objects USING INDEX objects_expiring (expires_at>? AND expires_at<?)"},
      {"kSelectUnreferencedObjects", "objects_unreferenced"},
      {"kClaimDeletionRequests", "deletion_requests_pending"},
      {"kSelectDeletionRequests", "deletion_requests_by_created"},
      {"kPurgeDeletionRequests", "deletion_requests_by_expiry (expiry<?)"},
  };
  for (const auto& [name, part] : expected) {
    ASSERT_TRUE(plans.contains(name)) << name;
    EXPECT_TRUE(contains(plans[name], part)) << name << ":\n" << plans[name];
  }
  // The listings join objects by key, segments staying the outer loop.
  EXPECT_TRUE(contains(plans["kListSegments"], "SEARCH o USING PRIMARY KEY (id=?) LEFT-JOIN"))
      << plans["kListSegments"];
}

// The work SQLite does (virtual machine steps, which count rows visited) for a page in the middle
// of a flow does not depend on the flow's size.
TEST_F(SqliteSegmentsTest, PageCostDoesNotGrowWithFlowSize) {
  const std::string small = flow_id(1), big = flow_id(2);
  constexpr int kSmall = 200, kBig = 20000;
  store_->write([&](WriteTransaction& txn) {
    txn.put_object(stored_object("a"));
    txn.put_object(stored_object("b"));
    for (int i = 0; i < kBig; ++i) {
      const std::string object_id = i % 10 == 0 ? "a" : "b";
      if (i < kSmall) txn.insert_segment(segment(small, i * 10, i * 10 + 10, object_id));
      txn.insert_segment(segment(big, i * 10, i * 10 + 10, object_id));
    }
  });
  RawDb raw(path_);
  // Runs `name` to completion with the given integer / text parameters; returns VM steps and
  // checks that no full scan step happened.
  auto cost = [&](std::string_view name, const std::string& flow, std::vector<int64_t> ints,
                  const std::string& object_id = "") {
    sqlite3_stmt* stmt = raw.prepare(std::string(statement(name)));
    sqlite3_bind_text(stmt, 1, flow.c_str(), -1, SQLITE_TRANSIENT);
    for (size_t i = 0; i < ints.size(); ++i) {
      sqlite3_bind_int64(stmt, static_cast<int>(i) + 2, ints[i]);
    }
    if (!object_id.empty()) sqlite3_bind_text(stmt, 5, object_id.c_str(), -1, SQLITE_TRANSIENT);
    int rows = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) ++rows;
    EXPECT_EQ(sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0), 0) << name;
    EXPECT_EQ(sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_SORT, 0), 0) << name;
    const int steps = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, 0);
    sqlite3_finalize(stmt);
    return std::make_pair(rows, steps);
  };
  // A page of 11 in the middle of each flow (the small flow's middle is also the big one's
  // early part: the same rows, so any difference is the flow's size).
  const int64_t mid = kSmall / 2 * 10;
  for (std::string_view name : {"kListSegments", "kListSegmentsReverse"}) {
    const auto s = cost(name, small, {mid, mid + 500, 11});
    const auto b = cost(name, big, {mid, mid + 500, 11});
    EXPECT_EQ(s.first, 11) << name;
    EXPECT_EQ(b.first, 11) << name;
    EXPECT_EQ(b.second, s.second) << name;
    const auto deep = cost(name, big, {kBig / 2 * 10, kBig / 2 * 10 + 500, 11});
    EXPECT_EQ(deep.second, s.second) << name;
  }
  for (std::string_view name : {"kListObjectSegments", "kListObjectSegmentsReverse"}) {
    const auto s = cost(name, small, {0, kSmall * 10, 11}, "a");
    const auto b = cost(name, big, {0, kBig * 10, 11}, "a");
    EXPECT_EQ(s.first, 11) << name;
    EXPECT_EQ(b.first, 11) << name;
    EXPECT_EQ(b.second, s.second) << name;
  }
  {
    const auto s = cost("kSegmentStartingBefore", small, {mid + 5});
    const auto b = cost("kSegmentStartingBefore", big, {kBig * 10 - 5});
    EXPECT_EQ(s.first, 1);
    EXPECT_EQ(b.first, 1);
    EXPECT_EQ(b.second, s.second);
  }
  {
    const auto s = cost("kSelectSegmentsFrom", small, {mid, kMax, 5});
    const auto b = cost("kSelectSegmentsFrom", big, {kBig / 2 * 10, kMax, 5});
    EXPECT_EQ(b.second, s.second);
    const auto so = cost("kSelectObjectSegmentsFrom", small, {mid, kMax, 5}, "a");
    const auto bo = cost("kSelectObjectSegmentsFrom", big, {kBig / 2 * 10, kMax, 5}, "a");
    EXPECT_EQ(bo.second, so.second);
  }
  // And through the store: the last page of the big flow from a timerange.
  SegmentQuery q = query_of(big, TimeRange::half_open(kBig * 10 - 25, kMax), false, 10);
  EXPECT_EQ(starts(list(q).items),
            (std::vector<int64_t>{kBig * 10 - 30, kBig * 10 - 20, kBig * 10 - 10}));
}

// ---- Migration from version 1 ----

TEST_F(SqliteSegmentsTest, MigratesAVersion1Database) {
  store_.reset();
  std::filesystem::remove(path_);
  {
    RawDb raw(path_);
    raw.exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at TEXT NOT NULL)");
    raw.exec(std::string(migrations()[0].sql));
    raw.exec("INSERT INTO schema_migrations VALUES (1, '" + std::string(migrations()[0].name) +
             "', '')");
    raw.exec(
        "INSERT INTO flows (id, source_id, format, doc) VALUES ('f', 's', 'v', "
        "'{\"id\":\"f\",\"source_id\":\"s\",\"format\":\"v\"}')");
    raw.exec(
        "INSERT INTO segments (flow_id, start_ns, end_ns, doc, object_id) VALUES "
        "('f', 0, 10, '{\"timerange\":\"[0:0_0:10)\"}', 'o')");
  }
  store_ = SqliteStore::open(path_);
  EXPECT_EQ(count("SELECT max(version) FROM schema_migrations"),
            static_cast<int64_t>(migrations().size()));
  store_->read([&](Reader& reader) {
    EXPECT_FALSE(reader.get_flow("f")->contains("segments_updated"));
    const auto page = reader.list_segments(query_of("f"));
    ASSERT_EQ(page.items.size(), 1u);
    EXPECT_EQ(page.items[0].object_id, "o");
    EXPECT_EQ(page.items[0].storage_id, "");  // no object row
    EXPECT_EQ(reader.segment_bounds("f", TimeRange::eternity()),
              std::make_pair(std::string("[0:0_0:10)"), std::string("[0:0_0:10)")));
  });
  store_->write([](WriteTransaction& txn) { txn.set_segments_updated("f", "now"); });
  store_->read(
      [&](Reader& reader) { EXPECT_EQ(reader.get_flow("f")->at("segments_updated"), "now"); });
}

}  // namespace
}  // namespace tams::store::sqlite
