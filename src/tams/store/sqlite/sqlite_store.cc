#include "tams/store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <variant>

#include "tams/store/sqlite/connection.h"
#include "tams/store/sqlite/migrations.h"

namespace tams::store::sqlite {

namespace {

// ---- Transactions ----

constexpr std::string_view kBeginRead = "BEGIN";
constexpr std::string_view kBeginWrite = "BEGIN IMMEDIATE";
constexpr std::string_view kCommit = "COMMIT";

// ---- Connection setup ----

constexpr std::string_view kPragmaJournalModeWal = "PRAGMA journal_mode = WAL";
constexpr std::string_view kPragmaSynchronousFull = "PRAGMA synchronous = FULL";
constexpr std::string_view kPragmaSynchronousNormal = "PRAGMA synchronous = NORMAL";
constexpr std::string_view kPragmaForeignKeysOn = "PRAGMA foreign_keys = ON";

// ---- Sources ----

constexpr std::string_view kSelectSourceById = "SELECT doc FROM sources WHERE id = ?1";
constexpr std::string_view kUpsertSource =
    "INSERT INTO sources (id, format, label, doc) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (id) DO UPDATE SET format = excluded.format, label = excluded.label, "
    "doc = excluded.doc";
constexpr std::string_view kDeleteSource = "DELETE FROM sources WHERE id = ?1";
constexpr std::string_view kDeleteSourceTags = "DELETE FROM source_tags WHERE source_id = ?1";
constexpr std::string_view kInsertSourceTag =
    "INSERT INTO source_tags (source_id, name, value) VALUES (?1, ?2, ?3)";

// Source listing: kListSources, then any filter fragments, then the page fragments.
constexpr std::string_view kListSources = "SELECT id, doc FROM sources WHERE 1";
constexpr std::string_view kSourceLabelIs = " AND label = ?";
constexpr std::string_view kSourceFormatIs = " AND format = ?";
constexpr std::string_view kSourceTagIs =
    " AND EXISTS (SELECT 1 FROM source_tags t WHERE t.source_id = sources.id AND t.name = ? "
    "AND t.value = ?)";
constexpr std::string_view kSourceTagExists =
    " AND EXISTS (SELECT 1 FROM source_tags t WHERE t.source_id = sources.id AND t.name = ?)";
constexpr std::string_view kSourceTagMissing =
    " AND NOT EXISTS (SELECT 1 FROM source_tags t WHERE t.source_id = sources.id AND t.name = ?)";

// ---- Flows ----

constexpr std::string_view kSelectFlowById = "SELECT doc FROM flows WHERE id = ?1";
constexpr std::string_view kUpsertFlow =
    "INSERT INTO flows (id, source_id, format, codec, label, frame_width, frame_height, doc) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
    "ON CONFLICT (id) DO UPDATE SET source_id = excluded.source_id, format = excluded.format, "
    "codec = excluded.codec, label = excluded.label, frame_width = excluded.frame_width, "
    "frame_height = excluded.frame_height, doc = excluded.doc";
constexpr std::string_view kDeleteFlow = "DELETE FROM flows WHERE id = ?1";
constexpr std::string_view kDeleteFlowTags = "DELETE FROM flow_tags WHERE flow_id = ?1";
constexpr std::string_view kInsertFlowTag =
    "INSERT INTO flow_tags (flow_id, name, value) VALUES (?1, ?2, ?3)";
constexpr std::string_view kDeleteFlowCollection =
    "DELETE FROM flow_collections WHERE collector_id = ?1";
constexpr std::string_view kInsertFlowCollectionItem =
    "INSERT INTO flow_collections (collector_id, position, member_id, role) "
    "VALUES (?1, ?2, ?3, ?4)";

// Flow listing: kListFlows, then any filter fragments, then the page fragments.
constexpr std::string_view kListFlows = "SELECT id, doc FROM flows WHERE 1";
constexpr std::string_view kFlowSourceIs = " AND source_id = ?";
constexpr std::string_view kFlowFormatIs = " AND format = ?";
constexpr std::string_view kFlowCodecIs = " AND codec = ?";
constexpr std::string_view kFlowLabelIs = " AND label = ?";
constexpr std::string_view kFlowFrameWidthIs = " AND frame_width = ?";
constexpr std::string_view kFlowFrameHeightIs = " AND frame_height = ?";
constexpr std::string_view kFlowTagIs =
    " AND EXISTS (SELECT 1 FROM flow_tags t WHERE t.flow_id = flows.id AND t.name = ? "
    "AND t.value = ?)";
constexpr std::string_view kFlowTagExists =
    " AND EXISTS (SELECT 1 FROM flow_tags t WHERE t.flow_id = flows.id AND t.name = ?)";
constexpr std::string_view kFlowTagMissing =
    " AND NOT EXISTS (SELECT 1 FROM flow_tags t WHERE t.flow_id = flows.id AND t.name = ?)";
constexpr std::string_view kFlowHasNoSegments =
    " AND NOT EXISTS (SELECT 1 FROM segments s WHERE s.flow_id = flows.id)";
constexpr std::string_view kFlowHasSegments =
    " AND EXISTS (SELECT 1 FROM segments s WHERE s.flow_id = flows.id)";
// Parameters: query start, query end. The last segment starting before the query end is the
// only candidate: segments do not overlap, so it overlaps [start, end) iff it ends after start.
// One seek on the segments primary key per flow; NULL (no such segment) filters the flow out.
constexpr std::string_view kFlowHasSegmentOverlapping =
    " AND (SELECT s.end_ns > ? FROM segments s WHERE s.flow_id = flows.id AND s.start_ns < ? "
    "ORDER BY s.start_ns DESC LIMIT 1)";

// Segment bounds of a flow within a range: segments do not overlap, so start order is end
// order and each bound is one seek on the (flow_id, start_ns) primary key.
// The segment starting at or before the query start (it overlaps iff it ends after the start).
constexpr std::string_view kSegmentAtOrBefore =
    "SELECT end_ns, json_extract(doc, '$.timerange') FROM segments "
    "WHERE flow_id = ?1 AND start_ns <= ?2 ORDER BY start_ns DESC LIMIT 1";
// The first segment starting after the query start and before the query end.
constexpr std::string_view kFirstSegmentStartingIn =
    "SELECT end_ns, json_extract(doc, '$.timerange') FROM segments "
    "WHERE flow_id = ?1 AND start_ns > ?2 AND start_ns < ?3 ORDER BY start_ns ASC LIMIT 1";
// The last segment starting before the query end (it overlaps iff it ends after the start).
constexpr std::string_view kLastSegmentStartingBefore =
    "SELECT end_ns, json_extract(doc, '$.timerange') FROM segments "
    "WHERE flow_id = ?1 AND start_ns < ?2 ORDER BY start_ns DESC LIMIT 1";

// Page fragments shared by both listings: keyset on id, one extra row to detect a next page.
constexpr std::string_view kListAfterId = " AND id > ?";
constexpr std::string_view kListOrderByIdLimit = " ORDER BY id LIMIT ?";

// ---- Collections ----

constexpr std::string_view kSelectFlowCollectedBy =
    "SELECT DISTINCT collector_id FROM flow_collections WHERE member_id = ?1 "
    "ORDER BY collector_id";
constexpr std::string_view kSelectSourceCollection =
    "SELECT DISTINCT member.source_id, c.role FROM flows collector "
    "JOIN flow_collections c ON c.collector_id = collector.id "
    "JOIN flows member ON member.id = c.member_id "
    "WHERE collector.source_id = ?1 ORDER BY member.source_id, c.role";
constexpr std::string_view kSelectSourceCollectedBy =
    "SELECT DISTINCT collector.source_id FROM flows member "
    "JOIN flow_collections c ON c.member_id = member.id "
    "JOIN flows collector ON collector.id = c.collector_id "
    "WHERE member.source_id = ?1 ORDER BY collector.source_id";
constexpr std::string_view kCountFlowsOfSource = "SELECT count(*) FROM flows WHERE source_id = ?1";

// ---- Settings ----

constexpr std::string_view kSelectSetting = "SELECT value FROM settings WHERE key = ?1";
constexpr std::string_view kUpsertSetting =
    "INSERT INTO settings (key, value) VALUES (?1, ?2) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value";

// ---- Documents ----

Document parse_document(const std::string& text, std::string_view kind, std::string_view id) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    throw std::runtime_error("stored document of " + std::string(kind) + " '" + std::string(id) +
                             "' is not a JSON object");
  }
  return std::move(value.as_object());
}

std::string_view required_string(const Document& doc, std::string_view key,
                                 std::string_view operation) {
  const boost::json::value* value = doc.if_contains(key);
  if (value == nullptr || !value->is_string()) {
    throw std::invalid_argument(std::string(operation) + ": the document has no string \"" +
                                std::string(key) + "\"");
  }
  return value->get_string();
}

std::optional<std::string_view> optional_string(const Document& doc, std::string_view key) {
  const boost::json::value* value = doc.if_contains(key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return std::string_view(value->get_string());
}

std::optional<int64_t> optional_integer(const boost::json::object* object, std::string_view key) {
  if (object == nullptr) return std::nullopt;
  const boost::json::value* value = object->if_contains(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64() && value->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(value->get_uint64());
  }
  return std::nullopt;
}

void bind_optional(Statement& statement, int index, const std::optional<std::string_view>& value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind_null(index);
  }
}

void bind_optional(Statement& statement, int index, const std::optional<int64_t>& value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind_null(index);
  }
}

// Listing SQL assembled from the fixed fragments above. Values only ever travel as bound
// parameters, so the SQL text depends on which filters are present, never on their values, and
// each combination is prepared once per connection.
class Listing {
 public:
  using Value = std::variant<int64_t, std::string>;

  explicit Listing(std::string_view select) : sql_(select) {}

  void where(std::string_view fragment) { sql_.append(fragment); }
  void where(std::string_view fragment, Value value) {
    sql_.append(fragment);
    values_.push_back(std::move(value));
  }
  void where(std::string_view fragment, Value first, Value second) {
    sql_.append(fragment);
    values_.push_back(std::move(first));
    values_.push_back(std::move(second));
  }

  // Runs the listing for one page; `name` names the statement in errors, `kind` the documents.
  model::Page<Document> fetch(Connection& db, std::string_view name, std::string_view kind,
                              const model::PageRequest& page) {
    if (page.limit < 1) throw std::invalid_argument("list: page limit must be at least 1");
    if (!page.after.empty()) where(kListAfterId, page.after);
    where(kListOrderByIdLimit, std::min<int64_t>(page.limit, INT64_MAX - 1) + 1);

    Statement statement = db.prepare(name, sql_);
    for (size_t i = 0; i < values_.size(); ++i) {
      std::visit([&](const auto& value) { statement.bind(static_cast<int>(i) + 1, value); },
                 values_[i]);
    }
    model::Page<Document> result;
    result.limit = page.limit;
    std::string last_id;
    while (statement.step()) {
      if (static_cast<int64_t>(result.items.size()) == page.limit) {
        result.next = std::move(last_id);
        break;
      }
      last_id = statement.column_text(0);
      result.items.push_back(parse_document(statement.column_text(1), kind, last_id));
    }
    return result;
  }

 private:
  std::string sql_;
  std::vector<Value> values_;
};

template <class Fragments>
void add_tag_filters(Listing& listing, const TagFilters& tags) {
  for (const auto& [name, value] : tags.equals) listing.where(Fragments::kIs, name, value);
  for (const auto& [name, present] : tags.exists) {
    listing.where(present ? Fragments::kExists : Fragments::kMissing, name);
  }
}

struct SourceTagFragments {
  static constexpr std::string_view kIs = kSourceTagIs;
  static constexpr std::string_view kExists = kSourceTagExists;
  static constexpr std::string_view kMissing = kSourceTagMissing;
};

struct FlowTagFragments {
  static constexpr std::string_view kIs = kFlowTagIs;
  static constexpr std::string_view kExists = kFlowTagExists;
  static constexpr std::string_view kMissing = kFlowTagMissing;
};

// Reads and writes on one connection inside the transaction its caller opened. Handed to one
// read() or write() callback; not thread-safe.
class Transaction final : public WriteTransaction {
 public:
  explicit Transaction(Connection& db) : db_(db) {}

  std::optional<Document> get_source(const std::string& id) override {
    return get_document("kSelectSourceById", kSelectSourceById, "source", id);
  }

  std::optional<Document> get_flow(const std::string& id) override {
    return get_document("kSelectFlowById", kSelectFlowById, "flow", id);
  }

  model::Page<Document> list_sources(const SourceFilter& filter,
                                     const model::PageRequest& page) override {
    Listing listing(kListSources);
    if (filter.label) listing.where(kSourceLabelIs, *filter.label);
    if (filter.format) listing.where(kSourceFormatIs, *filter.format);
    add_tag_filters<SourceTagFragments>(listing, filter.tags);
    return listing.fetch(db_, "kListSources", "source", page);
  }

  model::Page<Document> list_flows(const FlowFilter& filter,
                                   const model::PageRequest& page) override {
    Listing listing(kListFlows);
    if (filter.source_id) listing.where(kFlowSourceIs, *filter.source_id);
    if (filter.format) listing.where(kFlowFormatIs, *filter.format);
    if (filter.codec) listing.where(kFlowCodecIs, *filter.codec);
    if (filter.label) listing.where(kFlowLabelIs, *filter.label);
    if (filter.frame_width) listing.where(kFlowFrameWidthIs, *filter.frame_width);
    if (filter.frame_height) listing.where(kFlowFrameHeightIs, *filter.frame_height);
    add_tag_filters<FlowTagFragments>(listing, filter.tags);
    if (filter.timerange) {
      const time::TimeRange& range = *filter.timerange;
      if (range.is_empty()) {
        listing.where(kFlowHasNoSegments);
      } else if (range.is_eternity()) {
        listing.where(kFlowHasSegments);
      } else {
        listing.where(kFlowHasSegmentOverlapping, range.start(), range.end());
      }
    }
    return listing.fetch(db_, "kListFlows", "flow", page);
  }

  std::vector<std::string> flow_collected_by(const std::string& flow_id) override {
    return select_ids("kSelectFlowCollectedBy", kSelectFlowCollectedBy, flow_id);
  }

  std::vector<CollectionMember> source_collection(const std::string& source_id) override {
    Statement statement = db_.prepare("kSelectSourceCollection", kSelectSourceCollection);
    statement.bind(1, source_id);
    std::vector<CollectionMember> members;
    while (statement.step()) {
      members.push_back(CollectionMember{statement.column_text(0), statement.column_text(1)});
    }
    return members;
  }

  std::vector<std::string> source_collected_by(const std::string& source_id) override {
    return select_ids("kSelectSourceCollectedBy", kSelectSourceCollectedBy, source_id);
  }

  std::optional<std::pair<std::string, std::string>> segment_bounds(
      const std::string& flow_id, const time::TimeRange& range) override {
    if (range.is_empty()) return std::nullopt;
    std::string first;
    {
      Statement at = db_.prepare("kSegmentAtOrBefore", kSegmentAtOrBefore);
      at.bind(1, flow_id).bind(2, range.start());
      if (at.step() && at.column_int64(0) > range.start()) first = at.column_text(1);
    }
    if (first.empty()) {
      Statement in = db_.prepare("kFirstSegmentStartingIn", kFirstSegmentStartingIn);
      in.bind(1, flow_id).bind(2, range.start()).bind(3, range.end());
      if (!in.step()) return std::nullopt;
      first = in.column_text(1);
    }
    Statement last = db_.prepare("kLastSegmentStartingBefore", kLastSegmentStartingBefore);
    last.bind(1, flow_id).bind(2, range.end());
    if (!last.step() || last.column_int64(0) <= range.start()) return std::nullopt;
    return std::make_pair(first, last.column_text(1));
  }

  int64_t count_flows_of_source(const std::string& source_id) override {
    Statement statement = db_.prepare("kCountFlowsOfSource", kCountFlowsOfSource);
    statement.bind(1, source_id);
    return statement.step() ? statement.column_int64(0) : 0;
  }

  std::optional<std::string> get_setting(const std::string& key) override {
    Statement statement = db_.prepare("kSelectSetting", kSelectSetting);
    statement.bind(1, key);
    if (!statement.step()) return std::nullopt;
    return statement.column_text(0);
  }

  void put_source(const Document& source) override {
    const std::string_view id = required_string(source, "id", "put_source");
    const std::string_view format = required_string(source, "format", "put_source");
    {
      Statement upsert = db_.prepare("kUpsertSource", kUpsertSource);
      upsert.bind(1, id).bind(2, format);
      bind_optional(upsert, 3, optional_string(source, "label"));
      upsert.bind(4, boost::json::serialize(source)).run();
    }
    db_.prepare("kDeleteSourceTags", kDeleteSourceTags).bind(1, id).run();
    insert_tags("kInsertSourceTag", kInsertSourceTag, id, source);
  }

  void delete_source(const std::string& id) override {
    db_.prepare("kDeleteSourceTags", kDeleteSourceTags).bind(1, id).run();
    db_.prepare("kDeleteSource", kDeleteSource).bind(1, id).run();
  }

  void put_flow(const Document& flow) override {
    const std::string_view id = required_string(flow, "id", "put_flow");
    const std::string_view source_id = required_string(flow, "source_id", "put_flow");
    const std::string_view format = required_string(flow, "format", "put_flow");
    // frame_width / frame_height filter video flows only (the spec's query parameter text), so
    // image flows, which have the same essence parameters, get no filter columns.
    const boost::json::value* essence =
        format == "urn:x-nmos:format:video" ? flow.if_contains("essence_parameters") : nullptr;
    const boost::json::object* essence_object = essence != nullptr ? essence->if_object() : nullptr;
    {
      Statement upsert = db_.prepare("kUpsertFlow", kUpsertFlow);
      upsert.bind(1, id).bind(2, source_id).bind(3, format);
      bind_optional(upsert, 4, optional_string(flow, "codec"));
      bind_optional(upsert, 5, optional_string(flow, "label"));
      bind_optional(upsert, 6, optional_integer(essence_object, "frame_width"));
      bind_optional(upsert, 7, optional_integer(essence_object, "frame_height"));
      upsert.bind(8, boost::json::serialize(flow)).run();
    }
    db_.prepare("kDeleteFlowTags", kDeleteFlowTags).bind(1, id).run();
    insert_tags("kInsertFlowTag", kInsertFlowTag, id, flow);
    db_.prepare("kDeleteFlowCollection", kDeleteFlowCollection).bind(1, id).run();
    const boost::json::value* collection = flow.if_contains("flow_collection");
    if (collection == nullptr || !collection->is_array()) return;
    int64_t position = 0;
    for (const boost::json::value& item : collection->get_array()) {
      const boost::json::object* entry = item.if_object();
      if (entry == nullptr) continue;
      const std::optional<std::string_view> member = optional_string(*entry, "id");
      if (!member) continue;
      db_.prepare("kInsertFlowCollectionItem", kInsertFlowCollectionItem)
          .bind(1, id)
          .bind(2, position++)
          .bind(3, *member)
          .bind(4, optional_string(*entry, "role").value_or(""))
          .run();
    }
  }

  void delete_flow(const std::string& id) override {
    db_.prepare("kDeleteFlowTags", kDeleteFlowTags).bind(1, id).run();
    db_.prepare("kDeleteFlowCollection", kDeleteFlowCollection).bind(1, id).run();
    db_.prepare("kDeleteFlow", kDeleteFlow).bind(1, id).run();
  }

  void put_setting(const std::string& key, const std::string& value) override {
    db_.prepare("kUpsertSetting", kUpsertSetting).bind(1, key).bind(2, value).run();
  }

 private:
  std::optional<Document> get_document(std::string_view name, std::string_view sql,
                                       std::string_view kind, const std::string& id) {
    Statement statement = db_.prepare(name, sql);
    statement.bind(1, id);
    if (!statement.step()) return std::nullopt;
    return parse_document(statement.column_text(0), kind, id);
  }

  std::vector<std::string> select_ids(std::string_view name, std::string_view sql,
                                      const std::string& key) {
    Statement statement = db_.prepare(name, sql);
    statement.bind(1, key);
    std::vector<std::string> ids;
    while (statement.step()) ids.push_back(statement.column_text(0));
    return ids;
  }

  // Tags are an object of string values; anything else in it is not indexed.
  void insert_tags(std::string_view name, std::string_view sql, std::string_view owner_id,
                   const Document& doc) {
    const boost::json::value* tags = doc.if_contains("tags");
    if (tags == nullptr || !tags->is_object()) return;
    for (const auto& tag : tags->get_object()) {
      if (!tag.value().is_string()) continue;
      db_.prepare(name, sql)
          .bind(1, owner_id)
          .bind(2, tag.key())
          .bind(3, tag.value().get_string())
          .run();
    }
  }

  Connection& db_;
};

// Clears the record of the thread inside write() however write() leaves.
class WritingThreadMark {
 public:
  explicit WritingThreadMark(std::atomic<std::thread::id>& mark) : mark_(mark) {
    mark_.store(std::this_thread::get_id());
  }
  WritingThreadMark(const WritingThreadMark&) = delete;
  WritingThreadMark& operator=(const WritingThreadMark&) = delete;
  ~WritingThreadMark() { mark_.store(std::thread::id()); }

 private:
  std::atomic<std::thread::id>& mark_;
};

}  // namespace

std::unique_ptr<SqliteStore> SqliteStore::open(const std::string& path,
                                               const SqliteOptions& options) {
  if (path.empty() || path == ":memory:") {
    throw std::runtime_error("SQLite metadata store needs a database file path, not '" + path +
                             "'");
  }
  if (sqlite3_threadsafe() == 0) {
    throw std::runtime_error("the linked SQLite library was built without thread support");
  }
  try {
    return std::unique_ptr<SqliteStore>(new SqliteStore(path, options));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot open metadata store '" + path + "': " + e.what());
  }
}

SqliteStore::SqliteStore(std::string path, const SqliteOptions& options)
    : path_(std::move(path)), options_(options) {
  writer_ = std::make_unique<Connection>(path_, Connection::Mode::kReadWrite);
  sqlite3_busy_timeout(writer_->handle(), options_.busy_timeout_ms);
  {
    Statement journal = writer_->prepare("kPragmaJournalModeWal", kPragmaJournalModeWal);
    if (!journal.step() || journal.column_text(0) != "wal") {
      throw std::runtime_error("the database cannot be switched to WAL mode");
    }
  }
  writer_->exec("kPragmaSynchronous",
                options_.synchronous_full ? kPragmaSynchronousFull : kPragmaSynchronousNormal);
  writer_->exec("kPragmaForeignKeysOn", kPragmaForeignKeysOn);
  migrate(*writer_);
}

SqliteStore::~SqliteStore() = default;

std::unique_ptr<Connection> SqliteStore::acquire_reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
  }
  auto reader = std::make_unique<Connection>(path_, Connection::Mode::kReadOnly);
  sqlite3_busy_timeout(reader->handle(), options_.busy_timeout_ms);
  return reader;
}

void SqliteStore::release_reader(std::unique_ptr<Connection> reader) {
  std::lock_guard lock(readers_mutex_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(reader));
}

void SqliteStore::read(const std::function<void(Reader&)>& fn) {
  std::unique_ptr<Connection> db = acquire_reader();
  try {
    db->prepare("kBeginRead", kBeginRead).run();
    Transaction transaction(*db);
    fn(transaction);
    db->prepare("kCommit", kCommit).run();
  } catch (...) {
    // A connection that cannot end its transaction is dropped rather than reused.
    if (db->rollback()) release_reader(std::move(db));
    throw;
  }
  release_reader(std::move(db));
}

void SqliteStore::write(const std::function<void(WriteTransaction&)>& fn) {
  if (writing_thread_.load() == std::this_thread::get_id()) {
    throw std::logic_error("SqliteStore::write() called from inside write() on the same thread");
  }
  std::lock_guard lock(write_mutex_);
  WritingThreadMark mark(writing_thread_);
  // Heals a connection left inside a transaction by an earlier failed rollback.
  if (!writer_->rollback()) {
    throw std::runtime_error("SQLite writer connection cannot end an earlier transaction");
  }
  try {
    writer_->prepare("kBeginWrite", kBeginWrite).run();
    Transaction transaction(*writer_);
    fn(transaction);
    writer_->prepare("kCommit", kCommit).run();
  } catch (...) {
    writer_->rollback();
    throw;
  }
}

}  // namespace tams::store::sqlite
