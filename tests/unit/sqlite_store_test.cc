#include "tams/store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tams/obs/metrics.h"
#include "tams/store/sqlite/connection.h"
#include "tams/store/sqlite/migrations.h"

namespace tams::store::sqlite {
namespace {

using boost::json::object;
using time::TimeRange;

constexpr int64_t kMin = TimeRange::kUnboundedStart;
constexpr int64_t kMax = TimeRange::kUnboundedEnd;

// Ids that sort in the order of n, shaped like the spec's UUIDs.
std::string id_of(int n) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "00000000-0000-4000-8000-%012d", n);
  return buffer;
}

object source_doc(const std::string& id, const std::string& format = "urn:x-nmos:format:video") {
  return object{{"id", id}, {"format", format}};
}

object flow_doc(const std::string& id, const std::string& source_id,
                const std::string& format = "urn:x-nmos:format:video") {
  return object{{"id", id}, {"source_id", source_id}, {"format", format}};
}

object video_flow(const std::string& id, const std::string& source_id, int64_t width,
                  int64_t height) {
  object flow = flow_doc(id, source_id);
  flow["codec"] = "video/h264";
  flow["essence_parameters"] = object{{"frame_width", width}, {"frame_height", height}};
  return flow;
}

// Filters built one condition at a time: designated initializers that skip members trip
// GCC 12's -Wmissing-field-initializers.
struct Flows {
  FlowFilter filter;
  Flows& source_id(std::string v) { return set(filter.source_id, std::move(v)); }
  Flows& format(std::string v) { return set(filter.format, std::move(v)); }
  Flows& codec(std::string v) { return set(filter.codec, std::move(v)); }
  Flows& label(std::string v) { return set(filter.label, std::move(v)); }
  Flows& frame_width(int64_t v) { return set(filter.frame_width, v); }
  Flows& frame_height(int64_t v) { return set(filter.frame_height, v); }
  Flows& timerange(TimeRange v) { return set(filter.timerange, v); }
  Flows& tag(std::string name, std::string value) {
    filter.tags.equals.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  Flows& has_tag(std::string name) {
    filter.tags.exists.emplace_back(std::move(name), true);
    return *this;
  }
  Flows& lacks_tag(std::string name) {
    filter.tags.exists.emplace_back(std::move(name), false);
    return *this;
  }
  operator const FlowFilter&() const { return filter; }

 private:
  template <class T, class V>
  Flows& set(std::optional<T>& field, V&& value) {
    field = std::forward<V>(value);
    return *this;
  }
};

struct Sources {
  SourceFilter filter;
  Sources& label(std::string v) {
    filter.label = std::move(v);
    return *this;
  }
  Sources& format(std::string v) {
    filter.format = std::move(v);
    return *this;
  }
  Sources& tag(std::string name, std::string value) {
    filter.tags.equals.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  Sources& has_tag(std::string name) {
    filter.tags.exists.emplace_back(std::move(name), true);
    return *this;
  }
  Sources& lacks_tag(std::string name) {
    filter.tags.exists.emplace_back(std::move(name), false);
    return *this;
  }
  operator const SourceFilter&() const { return filter; }
};

// The ids of a page, in order.
std::vector<std::string> ids(const model::Page<Document>& page) {
  std::vector<std::string> out;
  for (const Document& doc : page.items) out.emplace_back(doc.at("id").as_string());
  return out;
}

// Direct access to the database file, for checking its tables and for timeline fixtures that
// need no object rows (segments written directly).
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("raw open");
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }

  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error != nullptr ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error(sql + ": " + message);
    }
  }

  int64_t scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    }
    const int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return value;
  }

  void add_segment(const std::string& flow_id, int64_t start, int64_t end) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_,
                       "INSERT INTO segments (flow_id, start_ns, end_ns, doc, object_id) "
                       "VALUES (?1, ?2, ?3, '{}', 'object')",
                       -1, &stmt, nullptr);
    sqlite3_bind_text(stmt, 1, flow_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, start);
    sqlite3_bind_int64(stmt, 3, end);
    const int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error("add_segment failed");
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tams-sqlite-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/metadata.db";
    store_ = SqliteStore::open(path_);
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void put_flows(const std::vector<object>& flows) {
    store_->write([&](WriteTransaction& txn) {
      for (const object& flow : flows) txn.put_flow(flow);
    });
  }

  std::vector<std::string> list_flow_ids(const FlowFilter& filter, int64_t limit = 1000) {
    std::vector<std::string> out;
    store_->read([&](Reader& reader) {
      out = ids(reader.list_flows(filter, model::PageRequest{"", limit}));
    });
    return out;
  }

  std::vector<std::string> list_source_ids(const SourceFilter& filter) {
    std::vector<std::string> out;
    store_->read([&](Reader& reader) {
      out = ids(reader.list_sources(filter, model::PageRequest{"", 1000}));
    });
    return out;
  }

  // Every flow id matching `filter`, following `next` from page to page.
  std::vector<std::string> page_through(const FlowFilter& filter, int64_t limit) {
    std::vector<std::string> all;
    std::string after;
    for (int pages = 0; pages < 1000; ++pages) {
      model::Page<Document> page;
      store_->read([&](Reader& reader) { page = reader.list_flows(filter, {after, limit}); });
      EXPECT_EQ(page.limit, limit);
      EXPECT_LE(static_cast<int64_t>(page.items.size()), limit);
      for (const std::string& id : ids(page)) all.push_back(id);
      if (page.next.empty()) return all;
      EXPECT_EQ(page.next, all.back());
      after = page.next;
    }
    ADD_FAILURE() << "paging did not end";
    return all;
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

// ---- Sources and flows ----

TEST_F(SqliteStoreTest, SourcePutGetReplaceDelete) {
  const std::string id = id_of(1);
  store_->read([&](Reader& reader) { EXPECT_FALSE(reader.get_source(id)); });

  object source = source_doc(id);
  source["label"] = "first";
  source["tags"] = object{{"genre", "news"}};
  store_->write([&](WriteTransaction& txn) { txn.put_source(source); });
  store_->read([&](Reader& reader) {
    std::optional<Document> got = reader.get_source(id);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, source);
  });

  object replacement = source_doc(id, "urn:x-nmos:format:audio");
  store_->write([&](WriteTransaction& txn) { txn.put_source(replacement); });
  store_->read([&](Reader& reader) {
    EXPECT_EQ(*reader.get_source(id), replacement);
    EXPECT_TRUE(ids(reader.list_sources(Sources().label("first"), {"", 10})).empty());
  });

  store_->write([&](WriteTransaction& txn) { txn.delete_source(id); });
  store_->read([&](Reader& reader) { EXPECT_FALSE(reader.get_source(id)); });
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM source_tags"), 0);
}

TEST_F(SqliteStoreTest, FlowPutGetReplaceDelete) {
  const std::string id = id_of(1);
  const std::string member = id_of(2);
  object flow = video_flow(id, id_of(100), 1920, 1080);
  flow["label"] = "camera 1";
  flow["tags"] = object{{"location", "studio"}};
  flow["flow_collection"] = boost::json::array{object{{"id", member}, {"role", "video"}}};
  put_flows({flow, flow_doc(member, id_of(101))});
  store_->read([&](Reader& reader) {
    std::optional<Document> got = reader.get_flow(id);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, flow);
    EXPECT_FALSE(reader.get_flow(id_of(3)));
  });

  object replacement = flow_doc(id, id_of(100), "urn:x-nmos:format:data");
  put_flows({replacement});
  store_->read([&](Reader& reader) {
    EXPECT_EQ(*reader.get_flow(id), replacement);
    EXPECT_TRUE(reader.flow_collected_by(member).empty());
  });

  put_flows({flow});
  store_->write([&](WriteTransaction& txn) { txn.delete_flow(id); });
  store_->read([&](Reader& reader) {
    EXPECT_FALSE(reader.get_flow(id));
    EXPECT_TRUE(reader.get_flow(member));
    EXPECT_TRUE(reader.flow_collected_by(member).empty());
  });
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM flow_tags"), 0);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM flow_collections"), 0);
}

TEST_F(SqliteStoreTest, DocumentsNeedStringIdAndRequiredFields) {
  EXPECT_THROW(store_->write([](WriteTransaction& txn) {
    txn.put_flow(object{{"id", 5}});
  }),
               std::invalid_argument);
  EXPECT_THROW(store_->write([](WriteTransaction& txn) {
    txn.put_flow(object{{"id", id_of(1)}, {"format", "urn:x-nmos:format:video"}});
  }),
               std::invalid_argument);
  EXPECT_THROW(store_->write([](WriteTransaction& txn) {
    txn.put_source(object{{"id", id_of(1)}});
  }),
               std::invalid_argument);
}

TEST_F(SqliteStoreTest, TagIndexFollowsReplacement) {
  const std::string flow_id = id_of(1);
  const std::string source_id = id_of(2);
  object flow = flow_doc(flow_id, source_id);
  flow["tags"] = object{{"a", "1"}, {"b", "2"}};
  object source = source_doc(source_id);
  source["tags"] = object{{"a", "1"}};
  store_->write([&](WriteTransaction& txn) {
    txn.put_flow(flow);
    txn.put_source(source);
  });
  EXPECT_EQ(list_flow_ids(Flows().tag("a", "1")), std::vector{flow_id});

  flow["tags"] = object{{"b", "3"}, {"c", 4}};  // a non-string value is not a tag to filter on
  source["tags"] = object{{"z", "9"}};
  store_->write([&](WriteTransaction& txn) {
    txn.put_flow(flow);
    txn.put_source(source);
  });
  const std::vector<std::string> none;
  const std::vector<std::string> just_flow{flow_id};
  EXPECT_EQ(list_flow_ids(Flows().tag("a", "1")), none);
  EXPECT_EQ(list_flow_ids(Flows().has_tag("a")), none);
  EXPECT_EQ(list_flow_ids(Flows().tag("b", "2")), none);
  EXPECT_EQ(list_flow_ids(Flows().tag("b", "3")), just_flow);
  EXPECT_EQ(list_flow_ids(Flows().has_tag("c")), none);
  EXPECT_EQ(list_flow_ids(Flows().lacks_tag("c")), just_flow);
  EXPECT_EQ(list_source_ids(Sources().has_tag("a")), none);
  EXPECT_EQ(list_source_ids(Sources().tag("z", "9")), std::vector{source_id});

  flow.erase("tags");
  put_flows({flow});
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM flow_tags"), 0);
}

// ---- Listing filters ----

TEST_F(SqliteStoreTest, SourceListingFilters) {
  object s1 = source_doc(id_of(1));
  s1["label"] = "studio";
  s1["tags"] = object{{"genre", "news"}, {"lang", "en"}};
  object s2 = source_doc(id_of(2), "urn:x-nmos:format:audio");
  s2["label"] = "studio";
  s2["tags"] = object{{"genre", "sport"}};
  object s3 = source_doc(id_of(3));
  s3["tags"] = object{{"genre", "news"}};
  store_->write([&](WriteTransaction& txn) {
    for (const object& s : {s3, s1, s2}) txn.put_source(s);
  });

  using Ids = std::vector<std::string>;
  EXPECT_EQ(list_source_ids({}), (Ids{id_of(1), id_of(2), id_of(3)}));
  EXPECT_EQ(list_source_ids(Sources().label("studio")), (Ids{id_of(1), id_of(2)}));
  EXPECT_EQ(list_source_ids(Sources().label("Studio")), Ids{});
  EXPECT_EQ(list_source_ids(Sources().format("urn:x-nmos:format:video")),
            (Ids{id_of(1), id_of(3)}));
  EXPECT_EQ(list_source_ids(Sources().tag("genre", "news")), (Ids{id_of(1), id_of(3)}));
  EXPECT_EQ(list_source_ids(Sources().has_tag("lang")), Ids{id_of(1)});
  EXPECT_EQ(list_source_ids(Sources().lacks_tag("lang")), (Ids{id_of(2), id_of(3)}));
  EXPECT_EQ(list_source_ids(Sources().format("urn:x-nmos:format:video").label("studio")),
            Ids{id_of(1)});
  EXPECT_EQ(list_source_ids(Sources().label("studio").tag("genre", "news").lacks_tag("lang")),
            Ids{});
}

TEST_F(SqliteStoreTest, FlowListingFilters) {
  const std::string src_a = id_of(100);
  const std::string src_b = id_of(101);
  object f1 = video_flow(id_of(1), src_a, 1920, 1080);
  f1["label"] = "main";
  f1["tags"] = object{{"quality", "hd"}, {"live", "yes"}};
  object f2 = video_flow(id_of(2), src_a, 1280, 720);
  f2["tags"] = object{{"quality", "sd"}};
  object f3 = video_flow(id_of(3), src_b, 1920, 720);
  f3["codec"] = "video/raw";
  f3["label"] = "main";
  object f4 = flow_doc(id_of(4), src_b, "urn:x-nmos:format:audio");
  f4["codec"] = "audio/aac";
  f4["essence_parameters"] = object{{"sample_rate", 48000}, {"channels", 2}};
  // Non-integer sizes are not indexed: only integer frame sizes match.
  object f5 = flow_doc(id_of(5), src_b);
  f5["essence_parameters"] = object{{"frame_width", "1920"}, {"frame_height", 1080.5}};
  put_flows({f5, f4, f3, f2, f1});

  using Ids = std::vector<std::string>;
  const std::string all_video = "urn:x-nmos:format:video";
  EXPECT_EQ(list_flow_ids({}), (Ids{id_of(1), id_of(2), id_of(3), id_of(4), id_of(5)}));
  EXPECT_EQ(list_flow_ids(Flows().source_id(src_a)), (Ids{id_of(1), id_of(2)}));
  EXPECT_EQ(list_flow_ids(Flows().format(all_video)),
            (Ids{id_of(1), id_of(2), id_of(3), id_of(5)}));
  EXPECT_EQ(list_flow_ids(Flows().codec("video/h264")), (Ids{id_of(1), id_of(2)}));
  EXPECT_EQ(list_flow_ids(Flows().label("main")), (Ids{id_of(1), id_of(3)}));
  EXPECT_EQ(list_flow_ids(Flows().frame_width(1920)), (Ids{id_of(1), id_of(3)}));
  EXPECT_EQ(list_flow_ids(Flows().frame_height(720)), (Ids{id_of(2), id_of(3)}));
  EXPECT_EQ(list_flow_ids(Flows().frame_height(1080)), Ids{id_of(1)});
  EXPECT_EQ(list_flow_ids(Flows().tag("quality", "hd")), Ids{id_of(1)});
  EXPECT_EQ(list_flow_ids(Flows().has_tag("quality")), (Ids{id_of(1), id_of(2)}));
  EXPECT_EQ(list_flow_ids(Flows().lacks_tag("quality")), (Ids{id_of(3), id_of(4), id_of(5)}));
  EXPECT_EQ(list_flow_ids(Flows().source_id(src_b).label("main")), Ids{id_of(3)});
  EXPECT_EQ(list_flow_ids(Flows().frame_width(1920).frame_height(720)), Ids{id_of(3)});
  EXPECT_EQ(list_flow_ids(Flows().format(all_video).codec("video/h264").frame_width(1920)),
            Ids{id_of(1)});
  EXPECT_EQ(list_flow_ids(Flows().tag("quality", "hd").tag("live", "yes")), Ids{id_of(1)});
  EXPECT_EQ(list_flow_ids(Flows().tag("quality", "hd").tag("live", "no")), Ids{});
  EXPECT_EQ(list_flow_ids(Flows().tag("quality", "sd").lacks_tag("live")), Ids{id_of(2)});
  EXPECT_EQ(list_flow_ids(Flows().source_id(src_a).codec("audio/aac")), Ids{});
}

TEST_F(SqliteStoreTest, FilterValuesAreBoundNotSpliced) {
  object flow = flow_doc(id_of(1), id_of(100));
  flow["label"] = "it's \"quoted\" -- ; DROP TABLE flows";
  flow["tags"] = object{{"we'ird.name", "va'lue"}};
  put_flows({flow});
  using Ids = std::vector<std::string>;
  EXPECT_EQ(list_flow_ids(Flows().label("it's \"quoted\" -- ; DROP TABLE flows")), Ids{id_of(1)});
  EXPECT_EQ(list_flow_ids(Flows().tag("we'ird.name", "va'lue")), Ids{id_of(1)});
  EXPECT_EQ(list_flow_ids(Flows().label("' OR 1=1 --")), Ids{});
}

// ---- Paging ----

TEST_F(SqliteStoreTest, PagingVisitsEachFlowOnceInAscendingOrder) {
  std::vector<object> flows;
  std::vector<std::string> expected;
  // Inserted in a scrambled order so that id order is not insertion order.
  for (int i = 0; i < 250; ++i) {
    const int n = (i * 97) % 250;
    flows.push_back(flow_doc(id_of(n), id_of(1000)));
  }
  for (int n = 0; n < 250; ++n) expected.push_back(id_of(n));
  put_flows(flows);

  EXPECT_EQ(page_through({}, 7), expected);
  EXPECT_EQ(page_through({}, 250), expected);
  EXPECT_EQ(page_through({}, 1000), expected);
  EXPECT_EQ(page_through({}, 1), expected);
}

TEST_F(SqliteStoreTest, LastFullPageHasNoNext) {
  std::vector<object> flows;
  for (int n = 0; n < 14; ++n) flows.push_back(flow_doc(id_of(n), id_of(1000)));
  put_flows(flows);
  store_->read([&](Reader& reader) {
    model::Page<Document> first = reader.list_flows({}, {"", 7});
    EXPECT_EQ(first.items.size(), 7u);
    EXPECT_EQ(first.next, id_of(6));
    model::Page<Document> second = reader.list_flows({}, {first.next, 7});
    EXPECT_EQ(ids(second).front(), id_of(7));
    EXPECT_EQ(second.items.size(), 7u);
    EXPECT_EQ(second.next, "");
    // A cursor past every id, or between ids, still works.
    EXPECT_TRUE(reader.list_flows({}, {"zzz", 7}).items.empty());
    EXPECT_EQ(ids(reader.list_flows({}, {id_of(3) + "0", 1})), std::vector{id_of(4)});
  });
}

TEST_F(SqliteStoreTest, PagingCombinedWithFilters) {
  std::vector<object> flows;
  std::vector<std::string> expected;
  for (int n = 0; n < 250; ++n) {
    object flow = flow_doc(id_of(n), id_of(1000 + n % 2));
    if (n % 3 == 0) flow["tags"] = object{{"third", "yes"}};
    if (n % 2 == 0 && n % 3 == 0) expected.push_back(id_of(n));
    flows.push_back(flow);
  }
  put_flows(flows);
  const FlowFilter filter = Flows().source_id(id_of(1000)).tag("third", "yes");
  EXPECT_EQ(page_through(filter, 7), expected);
  EXPECT_EQ(page_through(filter, 3), expected);
}

TEST_F(SqliteStoreTest, SourcePaging) {
  store_->write([](WriteTransaction& txn) {
    for (int n = 30; n-- > 0;) txn.put_source(source_doc(id_of(n)));
  });
  std::vector<std::string> seen;
  std::string after;
  do {
    model::Page<Document> page;
    store_->read([&](Reader& reader) { page = reader.list_sources({}, {after, 4}); });
    for (const std::string& id : ids(page)) seen.push_back(id);
    after = page.next;
  } while (!after.empty());
  ASSERT_EQ(seen.size(), 30u);
  for (int n = 0; n < 30; ++n) EXPECT_EQ(seen[n], id_of(n));
}

// ---- Timerange filter ----

class SqliteStoreTimerangeTest : public SqliteStoreTest {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    // a: [0,10) [20,30)   b: [100,200)   c: no segments   d: (-inf,5)   e: [1000,+inf)
    put_flows({flow_doc("a", "s"), flow_doc("b", "s"), flow_doc("c", "s"), flow_doc("d", "s"),
               flow_doc("e", "s")});
    RawDb raw(path_);
    raw.add_segment("a", 0, 10);
    raw.add_segment("a", 20, 30);
    raw.add_segment("b", 100, 200);
    raw.add_segment("d", kMin, 5);
    raw.add_segment("e", 1000, kMax);
  }
};

struct TimerangeCase {
  TimeRange query;
  std::vector<std::string> expected;
};

TEST_F(SqliteStoreTimerangeTest, SelectsFlowsWithOverlappingSegments) {
  const std::vector<TimerangeCase> cases = {
      {TimeRange::empty(), {"c"}},
      {TimeRange::half_open(7, 3), {"c"}},  // an inverted range is the empty range
      {TimeRange::eternity(), {"a", "b", "d", "e"}},
      {TimeRange::half_open(10, 20), {}},  // the gap in a: both ends only touch
      {TimeRange::half_open(9, 10), {"a"}},
      {TimeRange::half_open(9, 11), {"a"}},
      {TimeRange::half_open(19, 20), {}},
      {TimeRange::half_open(19, 21), {"a"}},
      {TimeRange::half_open(29, 30), {"a"}},
      {TimeRange::half_open(30, 100), {}},  // between a's end and b's start, both exclusive
      {TimeRange::half_open(30, 101), {"b"}},
      {TimeRange::half_open(200, 1000), {}},
      {TimeRange::half_open(199, 1001), {"b", "e"}},
      {TimeRange::half_open(kMin, 0), {"d"}},
      {TimeRange::half_open(kMin, 1), {"a", "d"}},
      {TimeRange::half_open(4, 5), {"a", "d"}},
      {TimeRange::half_open(5, 6), {"a"}},
      {TimeRange::half_open(-100, -99), {"d"}},
      {TimeRange::half_open(5000, 6000), {"e"}},
      {TimeRange::half_open(999, kMax), {"e"}},
      {TimeRange::half_open(kMax - 1, kMax), {"e"}},
      {TimeRange::half_open(kMin, kMin + 1), {"d"}},
      {TimeRange::half_open(150, 150), {"c"}},  // empty
  };
  for (const TimerangeCase& test : cases) {
    EXPECT_EQ(list_flow_ids(Flows().timerange(test.query)), test.expected)
        << "[" << test.query.start() << ", " << test.query.end() << ")";
  }
}

TEST_F(SqliteStoreTimerangeTest, CombinesWithOtherFiltersAndPaging) {
  object b = flow_doc("b", "s");
  b["tags"] = object{{"keep", "1"}};
  put_flows({b});
  EXPECT_EQ(list_flow_ids(Flows().has_tag("keep").timerange(TimeRange::eternity())),
            std::vector<std::string>{"b"});
  EXPECT_EQ(list_flow_ids(Flows().has_tag("keep").timerange(TimeRange::empty())),
            std::vector<std::string>{});
  EXPECT_EQ(page_through(Flows().timerange(TimeRange::half_open(kMin, 150)), 1),
            (std::vector<std::string>{"a", "b", "d"}));
}

// Random non-overlapping segments against a brute-force overlap check.
TEST_F(SqliteStoreTest, TimerangeFilterMatchesBruteForce) {
  std::mt19937_64 rng(20240611);
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> segments;
  std::vector<object> flows;
  for (int f = 0; f < 40; ++f) flows.push_back(flow_doc(id_of(f), "s"));
  put_flows(flows);
  {
    RawDb raw(path_);
    raw.exec("BEGIN");
    for (int f = 0; f < 40; ++f) {
      int64_t t = static_cast<int64_t>(rng() % 50);
      const int count = static_cast<int>(rng() % 6);  // some flows stay empty
      for (int i = 0; i < count; ++i) {
        const int64_t start = t + static_cast<int64_t>(rng() % 3);  // gaps of 0, 1 or 2
        const int64_t end = start + 1 + static_cast<int64_t>(rng() % 10);
        raw.add_segment(id_of(f), start, end);
        segments[id_of(f)].emplace_back(start, end);
        t = end;
      }
    }
    raw.exec("COMMIT");
  }
  for (int q = 0; q < 300; ++q) {
    const int64_t start = static_cast<int64_t>(rng() % 120) - 5;
    const int64_t end = start + static_cast<int64_t>(rng() % 20);
    const TimeRange query = TimeRange::half_open(start, end);
    std::vector<std::string> expected;
    for (int f = 0; f < 40; ++f) {
      const auto& list = segments[id_of(f)];
      const bool match =
          start >= end ? list.empty() : std::any_of(list.begin(), list.end(), [&](auto& s) {
            return s.first < end && start < s.second;
          });
      if (match) expected.push_back(id_of(f));
    }
    ASSERT_EQ(list_flow_ids(Flows().timerange(query)), expected)
        << "[" << start << ", " << end << ")";
  }
}

TEST_F(SqliteStoreTest, TimerangeFilterSeeksTheSegmentsKey) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "EXPLAIN QUERY PLAN SELECT id FROM flows WHERE (SELECT s.end_ns > 1 "
                               "FROM segments s WHERE s.flow_id = flows.id AND s.start_ns < 2 "
                               "ORDER BY s.start_ns DESC LIMIT 1)",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  std::string plan;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    plan += "\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  EXPECT_NE(plan.find("SEARCH s USING PRIMARY KEY (flow_id=? AND start_ns<?)"), std::string::npos)
      << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

// ---- Collections ----

TEST_F(SqliteStoreTest, CollectionQueries) {
  // Source m has multi flow M collecting V (source v, role "video"), A1 and A2 (source a,
  // roles "audio" and "commentary"), and A1 again with role "audio". Source n has flow N
  // collecting V too.
  const std::string m = "src-m", n = "src-n", v = "src-v", a = "src-a";
  object multi = flow_doc("M", m, "urn:x-nmos:format:multi");
  multi["flow_collection"] = boost::json::array{
      object{{"id", "V"}, {"role", "video"}},
      object{{"id", "A1"}, {"role", "audio"}},
      object{{"id", "A2"}, {"role", "commentary"}, {"container_mapping", object{}}},
      object{{"id", "A1"}, {"role", "audio"}},
  };
  object other = flow_doc("N", n, "urn:x-nmos:format:multi");
  other["flow_collection"] = boost::json::array{object{{"id", "V"}, {"role", "picture"}}};
  put_flows({multi, other, flow_doc("V", v), flow_doc("A1", a), flow_doc("A2", a)});

  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.flow_collected_by("V"), (std::vector<std::string>{"M", "N"}));
    EXPECT_EQ(reader.flow_collected_by("A1"), std::vector<std::string>{"M"});
    EXPECT_TRUE(reader.flow_collected_by("M").empty());

    std::vector<CollectionMember> members = reader.source_collection(m);
    ASSERT_EQ(members.size(), 3u);
    EXPECT_EQ(members[0].id, a);
    EXPECT_EQ(members[0].role, "audio");
    EXPECT_EQ(members[1].id, a);
    EXPECT_EQ(members[1].role, "commentary");
    EXPECT_EQ(members[2].id, v);
    EXPECT_EQ(members[2].role, "video");
    EXPECT_TRUE(reader.source_collection(v).empty());

    EXPECT_EQ(reader.source_collected_by(v), (std::vector<std::string>{m, n}));
    EXPECT_EQ(reader.source_collected_by(a), std::vector<std::string>{m});
    EXPECT_TRUE(reader.source_collected_by(m).empty());

    EXPECT_EQ(reader.count_flows_of_source(a), 2);
    EXPECT_EQ(reader.count_flows_of_source(m), 1);
    EXPECT_EQ(reader.count_flows_of_source("nobody"), 0);
  });

  // Replacing the collection replaces its rows.
  multi["flow_collection"] = boost::json::array{object{{"id", "A2"}, {"role", "audio"}}};
  put_flows({multi});
  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.flow_collected_by("V"), std::vector<std::string>{"N"});
    EXPECT_TRUE(reader.flow_collected_by("A1").empty());
    std::vector<CollectionMember> members = reader.source_collection(m);
    ASSERT_EQ(members.size(), 1u);
    EXPECT_EQ(members[0].id, a);
    EXPECT_EQ(members[0].role, "audio");
    EXPECT_EQ(reader.source_collected_by(v), std::vector<std::string>{n});
  });
}

// ---- Settings ----

TEST_F(SqliteStoreTest, Settings) {
  store_->read([](Reader& reader) { EXPECT_FALSE(reader.get_setting("name")); });
  store_->write([](WriteTransaction& txn) { txn.put_setting("name", "first"); });
  store_->write([](WriteTransaction& txn) {
    txn.put_setting("name", "second");
    txn.put_setting("description", "");
  });
  store_->read([](Reader& reader) {
    EXPECT_EQ(reader.get_setting("name"), "second");
    EXPECT_EQ(reader.get_setting("description"), "");
  });
}

// ---- Transactions ----

TEST_F(SqliteStoreTest, ExceptionRollsBackEverything) {
  store_->write([](WriteTransaction& txn) { txn.put_setting("kept", "yes"); });
  EXPECT_THROW(store_->write([](WriteTransaction& txn) {
    object flow = flow_doc(id_of(1), id_of(2));
    flow["tags"] = object{{"t", "v"}};
    flow["flow_collection"] = boost::json::array{object{{"id", id_of(3)}, {"role", "r"}}};
    txn.put_flow(flow);
    txn.put_source(source_doc(id_of(2)));
    txn.put_setting("kept", "no");
    EXPECT_TRUE(txn.get_flow(id_of(1)));  // the transaction sees its own writes
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  store_->read([](Reader& reader) {
    EXPECT_FALSE(reader.get_flow(id_of(1)));
    EXPECT_FALSE(reader.get_source(id_of(2)));
    EXPECT_EQ(reader.get_setting("kept"), "yes");
  });
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM flow_tags"), 0);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM flow_collections"), 0);
  // The store stays usable after a rolled-back write.
  store_->write([](WriteTransaction& txn) { txn.put_setting("after", "ok"); });
  store_->read([](Reader& reader) { EXPECT_EQ(reader.get_setting("after"), "ok"); });
}

TEST_F(SqliteStoreTest, ReadExceptionPropagatesAndReaderIsReusable) {
  EXPECT_THROW(store_->read([](Reader& reader) {
    reader.get_setting("x");
    throw std::out_of_range("reader");
  }),
               std::out_of_range);
  store_->write([](WriteTransaction& txn) { txn.put_setting("x", "1"); });
  store_->read([](Reader& reader) { EXPECT_EQ(reader.get_setting("x"), "1"); });
}

TEST_F(SqliteStoreTest, ReadersSeeOnlyCommittedSnapshots) {
  store_->write([&](WriteTransaction& txn) {
    txn.put_setting("k", "uncommitted");
    store_->read([](Reader& reader) { EXPECT_FALSE(reader.get_setting("k")); });
  });
  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.get_setting("k"), "uncommitted");
    // A write committed during this read is not seen by it.
    std::thread writer(
        [&] { store_->write([](WriteTransaction& txn) { txn.put_setting("k", "later"); }); });
    writer.join();
    EXPECT_EQ(reader.get_setting("k"), "uncommitted");
  });
  store_->read([](Reader& reader) { EXPECT_EQ(reader.get_setting("k"), "later"); });
}

TEST_F(SqliteStoreTest, NestedWriteOnOneThreadIsRefused) {
  EXPECT_THROW(store_->write([&](WriteTransaction&) { store_->write([](WriteTransaction&) {}); }),
               std::logic_error);
  store_->write([](WriteTransaction& txn) { txn.put_setting("still", "works"); });
}

TEST_F(SqliteStoreTest, ConcurrentReadersAndWriters) {
  constexpr int kThreads = 4;
  constexpr int kOps = 500;
  const std::string source = id_of(9999);
  std::atomic<int> failures{0};
  std::atomic<int> next_flow{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int op = 0; op < kOps; ++op) {
        try {
          if ((op + t) % 4 == 0) {
            // Each write adds one flow and bumps the counter: readers must always see both.
            store_->write([&](WriteTransaction& txn) {
              const int64_t count = std::stoll(txn.get_setting("count").value_or("0"));
              object flow = flow_doc(id_of(next_flow.fetch_add(1)), source);
              flow["tags"] = object{{"thread", std::to_string(t)}};
              txn.put_flow(flow);
              txn.put_setting("count", std::to_string(count + 1));
            });
          } else {
            store_->read([&](Reader& reader) {
              const int64_t count = std::stoll(reader.get_setting("count").value_or("0"));
              if (reader.count_flows_of_source(source) != count) failures.fetch_add(1);
              if (op % 10 == 1) {
                const FlowFilter filter = Flows().tag("thread", std::to_string(t));
                const auto page = reader.list_flows(filter, {"", 5});
                if (page.items.size() > 5) failures.fetch_add(1);
              }
            });
          }
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.count_flows_of_source(source), kThreads * kOps / 4);
    EXPECT_EQ(reader.get_setting("count"), std::to_string(kThreads * kOps / 4));
  });
}

// ---- Opening, persistence and migrations ----

TEST_F(SqliteStoreTest, ReopenPersists) {
  object flow = video_flow(id_of(1), id_of(2), 640, 480);
  flow["tags"] = object{{"kept", "yes"}};
  store_->write([&](WriteTransaction& txn) {
    txn.put_flow(flow);
    txn.put_source(source_doc(id_of(2)));
    txn.put_setting("name", "store");
  });
  store_.reset();
  store_ = SqliteStore::open(path_);
  store_->read([&](Reader& reader) {
    EXPECT_EQ(reader.get_flow(id_of(1)), flow);
    EXPECT_TRUE(reader.get_source(id_of(2)));
    EXPECT_EQ(reader.get_setting("name"), "store");
  });
  EXPECT_EQ(list_flow_ids(Flows().frame_width(640).tag("kept", "yes")), std::vector{id_of(1)});
}

TEST_F(SqliteStoreTest, DatabaseIsInWalModeWithForeignKeysDeclared) {
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM pragma_foreign_key_list('flow_tags')"), 1);
}

TEST_F(SqliteStoreTest, MigrationsAreRecordedOnceAndIdempotent) {
  const int64_t known = static_cast<int64_t>(migrations().size());
  ASSERT_GE(known, 1);
  for (size_t i = 0; i < migrations().size(); ++i) {
    EXPECT_EQ(migrations()[i].version, static_cast<int>(i) + 1);
  }
  store_.reset();
  store_ = SqliteStore::open(path_);
  store_.reset();
  store_ = SqliteStore::open(path_);
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.scalar("SELECT count(*) FROM schema_migrations"), known);
    EXPECT_EQ(raw.scalar("SELECT max(version) FROM schema_migrations"), known);
  }
  Connection connection(path_, Connection::Mode::kReadWrite);
  EXPECT_EQ(migrate(connection), 0);
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefused) {
  store_.reset();
  {
    RawDb raw(path_);
    raw.exec(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '')");
  }
  try {
    SqliteStore::open(path_);
    FAIL() << "opened a database with a newer schema";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
  }
}

TEST_F(SqliteStoreTest, UnknownRecordedMigrationIsRefused) {
  store_.reset();
  {
    RawDb raw(path_);
    raw.exec("UPDATE schema_migrations SET name = 'something else' WHERE version = 1");
  }
  EXPECT_THROW(SqliteStore::open(path_), std::runtime_error);
}

TEST_F(SqliteStoreTest, OpenFailuresAreClear) {
  auto message_of = [](const std::string& path) {
    try {
      SqliteStore::open(path);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string missing_dir = dir_ + "/no/such/dir/db.sqlite";
  EXPECT_NE(message_of(missing_dir).find(missing_dir), std::string::npos);
  EXPECT_NE(message_of(":memory:"), "no error");
  EXPECT_NE(message_of(""), "no error");

  const std::string not_a_db = dir_ + "/garbage.db";
  std::ofstream(not_a_db) << std::string(8192, 'x');
  const std::string message = message_of(not_a_db);
  EXPECT_NE(message.find(not_a_db), std::string::npos) << message;
  EXPECT_NE(message.find("not a database"), std::string::npos) << message;
}

// ---- Connection ----

TEST_F(SqliteStoreTest, ConnectionErrorsNameTheStatement) {
  Connection connection(path_, Connection::Mode::kReadWrite);
  try {
    connection.prepare("kBroken", "SELECT missing FROM nowhere");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("kBroken"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nowhere"), std::string::npos) << e.what();
  }
  EXPECT_THROW(connection.prepare("kTwo", "SELECT 1; SELECT 2"), std::logic_error);
  Statement held = connection.prepare("kOne", "SELECT 1");
  EXPECT_THROW(connection.prepare("kOne", "SELECT 1"), std::logic_error);
  try {
    connection.exec("BEGIN", "BEGIN");
    connection.prepare("kDuplicate", "INSERT INTO settings (key, value) VALUES ('a', 'b')").run();
    connection.prepare("kDuplicate", "INSERT INTO settings (key, value) VALUES ('a', 'b')").run();
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("kDuplicate"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("UNIQUE"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(connection.rollback());
}

// ---- Group commit ----

TEST_F(SqliteStoreTest, ConcurrentWritesCommitTogetherAndFailAlone) {
  // Writers on many threads: their writes are batched into shared transactions (group commit);
  // every third write throws after writing, and only its own source must be missing.
  constexpr int kThreads = 6;
  constexpr int kPerThread = 20;
  std::atomic<int> failures_seen{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        try {
          store_->write([&](WriteTransaction& txn) {
            txn.put_source(source_doc(id_of(n)));
            if (n % 3 == 0) throw std::invalid_argument("write " + std::to_string(n) + " fails");
          });
          EXPECT_NE(n % 3, 0);
        } catch (const std::invalid_argument& e) {
          EXPECT_EQ(n % 3, 0);
          EXPECT_EQ(std::string(e.what()), "write " + std::to_string(n) + " fails");
          ++failures_seen;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures_seen, kThreads * kPerThread / 3);
  store_->read([&](Reader& reader) {
    for (int n = 0; n < kThreads * kPerThread; ++n) {
      EXPECT_EQ(reader.get_source(id_of(n)).has_value(), n % 3 != 0) << n;
    }
  });
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM sources"), kThreads * kPerThread * 2 / 3);
  EXPECT_EQ(store_->stored_counts().sources, kThreads * kPerThread * 2 / 3);
  // Some writes did share a transaction (each of those ran in a savepoint).
  EXPECT_NE(obs::Registry::global().expose().find("query=\"kSavepointWrite\""), std::string::npos);
}

}  // namespace
}  // namespace tams::store::sqlite
