#include "tams/store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <tuple>
#include <array>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <map>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <variant>

#include "tams/store/document_fields.h"
#include "tams/store/listing_filters.h"
#include "tams/store/sqlite/connection.h"
#include "tams/store/sqlite/migrations.h"

namespace tams::store::sqlite {

namespace {

// ---- Transactions ----

constexpr std::string_view kBeginRead = "BEGIN";
constexpr std::string_view kBeginWrite = "BEGIN IMMEDIATE";
constexpr std::string_view kCommit = "COMMIT";
// One write of a group-committed batch (SqliteStore::write_batch).
constexpr std::string_view kSavepointWrite = "SAVEPOINT write";
constexpr std::string_view kRollbackToWrite = "ROLLBACK TO write";
constexpr std::string_view kReleaseWrite = "RELEASE write";
constexpr std::string_view kAddStoredSegments =
    "UPDATE stored_counts SET n = n + ?1 WHERE name = 'segments'";
constexpr std::string_view kSelectStoredCounts = "SELECT name, n FROM stored_counts";

// ---- Connection setup ----

constexpr std::string_view kPragmaJournalModeWal = "PRAGMA journal_mode = WAL";
constexpr std::string_view kPragmaSynchronousFull = "PRAGMA synchronous = FULL";
constexpr std::string_view kPragmaSynchronousNormal = "PRAGMA synchronous = NORMAL";
constexpr std::string_view kPragmaForeignKeysOn = "PRAGMA foreign_keys = ON";
// Page caches (negative: KiB), grown only as pages are used. The writer's holds the random-key
// B-tree pages (objects, object_refs, segments_by_object) that every registration touches; each
// reader's holds the upper levels of the segment and object trees that every query seeks.
constexpr std::string_view kPragmaWriterCacheSize = "PRAGMA cache_size = -16384";
constexpr std::string_view kPragmaReaderCacheSize = "PRAGMA cache_size = -8192";
// The savepoint journals of group-committed writes (the pages each write changed, as they were)
// in memory rather than in a temporary file.
constexpr std::string_view kPragmaTempStoreMemory = "PRAGMA temp_store = MEMORY";

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

// Source listing: kListSources, then the fragments of listing_filters.h.
constexpr std::string_view kListSources = "SELECT id, doc FROM sources WHERE 1";

// ---- Flows ----

// Flows are read with their segments_updated column, merged into the document (see
// merge_segments_updated).
constexpr std::string_view kSelectFlowById =
    "SELECT doc, segments_updated FROM flows WHERE id = ?1";
constexpr std::string_view kUpsertFlow =
    "INSERT INTO flows (id, source_id, format, codec, label, frame_width, frame_height, doc) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
    "ON CONFLICT (id) DO UPDATE SET source_id = excluded.source_id, format = excluded.format, "
    "codec = excluded.codec, label = excluded.label, frame_width = excluded.frame_width, "
    "frame_height = excluded.frame_height, doc = excluded.doc";
constexpr std::string_view kDeleteFlow = "DELETE FROM flows WHERE id = ?1";
constexpr std::string_view kUpdateSegmentsUpdated =
    "UPDATE flows SET segments_updated = ?2 WHERE id = ?1";
constexpr std::string_view kDeleteFlowTags = "DELETE FROM flow_tags WHERE flow_id = ?1";
constexpr std::string_view kInsertFlowTag =
    "INSERT INTO flow_tags (flow_id, name, value) VALUES (?1, ?2, ?3)";
constexpr std::string_view kDeleteFlowCollection =
    "DELETE FROM flow_collections WHERE collector_id = ?1";
constexpr std::string_view kInsertFlowCollectionItem =
    "INSERT INTO flow_collections (collector_id, position, member_id, role) "
    "VALUES (?1, ?2, ?3, ?4)";

// Flow listing: kListFlows, then the fragments of listing_filters.h.
constexpr std::string_view kListFlows = "SELECT id, doc, segments_updated FROM flows WHERE 1";

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


// ---- Segments ----
//
// Segments of one flow never overlap, so on the (flow_id, start_ns) primary key start order is
// also end order. Every statement below is a seek on that key (or on segments_by_object, which
// is (object_id, flow_id, start_ns)) followed by a walk of at most the rows it returns.

// The last segment starting before ?2: the only segment starting before a point that can reach
// past it. One row examined (a seek, then one step backwards). Parameters: flow, point.
// Deliberately no end_ns condition: "AND end_ns > x" would make SQLite walk backwards through
// every earlier segment looking for one that matches.
constexpr std::string_view kSegmentStartingBefore =
    "SELECT start_ns, end_ns FROM segments WHERE flow_id = ?1 AND start_ns < ?2 "
    "ORDER BY start_ns DESC LIMIT 1";
constexpr std::string_view kFlowHasAnySegment = "SELECT 1 FROM segments WHERE flow_id = ?1 LIMIT 1";

// Segment pages. Parameters: flow, lowest start (inclusive), highest start (exclusive), row
// limit, and the object for the object variants. list_segments computes both start bounds from
// the query range, the cursor and kSegmentStartingBefore, so each page is one seek plus `limit`
// steps. The object variants seek segments_by_object with object_id and flow_id fixed: also
// O(log n + page), plus one primary-key lookup per returned row for its doc. INDEXED BY because
// SQLite otherwise prefers the (covering) primary key and filters on object_id, which walks
// every segment of the range; it also makes preparing fail should the index ever be missing.
constexpr std::string_view kListSegments =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id FROM segments s "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.flow_id = ?1 AND s.start_ns >= ?2 AND s.start_ns < ?3 "
    "ORDER BY s.start_ns LIMIT ?4";
constexpr std::string_view kListSegmentsReverse =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id FROM segments s "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.flow_id = ?1 AND s.start_ns >= ?2 AND s.start_ns < ?3 "
    "ORDER BY s.start_ns DESC LIMIT ?4";
constexpr std::string_view kListObjectSegments =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id "
    "FROM segments s INDEXED BY segments_by_object "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.object_id = ?5 AND s.flow_id = ?1 AND s.start_ns >= ?2 AND s.start_ns < ?3 "
    "ORDER BY s.start_ns LIMIT ?4";
constexpr std::string_view kListObjectSegmentsReverse =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id "
    "FROM segments s INDEXED BY segments_by_object "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.object_id = ?5 AND s.flow_id = ?1 AND s.start_ns >= ?2 AND s.start_ns < ?3 "
    "ORDER BY s.start_ns DESC LIMIT ?4";

// Inserts the segment only when its object row exists; a duplicate (flow_id, start_ns) is not
// inserted either. sqlite3_changes() tells the caller whether the row went in (not RETURNING,
// which costs an ephemeral table per row). Parameters: flow, start, end, object, doc.
constexpr std::string_view kInsertSegment =
    "INSERT INTO segments (flow_id, start_ns, end_ns, object_id, doc) "
    "SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM objects WHERE id = ?4) "
    "ON CONFLICT (flow_id, start_ns) DO NOTHING";
constexpr std::string_view kSelectObjectExists = "SELECT 1 FROM objects WHERE id = ?1";
// Parameters: object, flow.
constexpr std::string_view kReferenceObject =
    "UPDATE objects SET reference_count = reference_count + 1, ever_referenced = 1, "
    "first_referenced_by_flow = COALESCE(first_referenced_by_flow, ?2) WHERE id = ?1";
constexpr std::string_view kAddObjectRef =
    "INSERT INTO object_refs (object_id, flow_id, segment_count) VALUES (?1, ?2, 1) "
    "ON CONFLICT (object_id, flow_id) DO UPDATE SET segment_count = segment_count + 1";

// Candidates for delete_segments: segments starting inside the range, in start order. The
// caller stops at the first one ending after the range (every later one ends later still).
// Parameters: flow, range start, range end, row limit, and the object for the object variant.
// The object variant walks segments_by_object (INDEXED BY as for kListObjectSegments), so it reads
// only that object's segments.
constexpr std::string_view kSelectSegmentsFrom =
    "SELECT start_ns, end_ns, object_id, doc FROM segments "
    "WHERE flow_id = ?1 AND start_ns >= ?2 AND start_ns < ?3 ORDER BY start_ns LIMIT ?4";
constexpr std::string_view kSelectObjectSegmentsFrom =
    "SELECT start_ns, end_ns, object_id, doc FROM segments INDEXED BY segments_by_object "
    "WHERE object_id = ?5 AND flow_id = ?1 AND start_ns >= ?2 AND start_ns < ?3 "
    "ORDER BY start_ns LIMIT ?4";
constexpr std::string_view kDeleteSegment =
    "DELETE FROM segments WHERE flow_id = ?1 AND start_ns = ?2";
// Parameters: object, flow, number of references released.
constexpr std::string_view kReleaseObjectRefs =
    "UPDATE object_refs SET segment_count = segment_count - ?3 "
    "WHERE object_id = ?1 AND flow_id = ?2 RETURNING segment_count";
constexpr std::string_view kDeleteObjectRefs =
    "DELETE FROM object_refs WHERE object_id = ?1 AND flow_id = ?2";
// Parameters: object, number of references released.
constexpr std::string_view kReleaseObject =
    "UPDATE objects SET reference_count = max(reference_count - ?2, 0) WHERE id = ?1";

// ---- Objects ----

constexpr std::string_view kSelectObject =
    "SELECT id, storage_id, allocated_for_flow, first_referenced_by_flow, reference_count, "
    "ever_referenced, expires_at FROM objects WHERE id = ?1";
// Empty strings are stored as NULL (first_referenced_by_flow must be NULL for kReferenceObject).
constexpr std::string_view kUpsertObject =
    "INSERT INTO objects (id, storage_id, allocated_for_flow, first_referenced_by_flow, "
    "reference_count, ever_referenced, expires_at) "
    "VALUES (?1, NULLIF(?2, ''), NULLIF(?3, ''), NULLIF(?4, ''), ?5, ?6, ?7) "
    "ON CONFLICT (id) DO UPDATE SET storage_id = excluded.storage_id, "
    "allocated_for_flow = excluded.allocated_for_flow, "
    "first_referenced_by_flow = excluded.first_referenced_by_flow, "
    "reference_count = excluded.reference_count, ever_referenced = excluded.ever_referenced, "
    "expires_at = excluded.expires_at";
constexpr std::string_view kDeleteObject = "DELETE FROM objects WHERE id = ?1";
// Parameters: object, storage id. An entry already queued for the id is kept as it is.
constexpr std::string_view kInsertMediaDeletion =
    "INSERT INTO media_deletions (object_id, storage_id) VALUES (?1, ?2) "
    "ON CONFLICT (object_id) DO NOTHING";
// Parameters: owner, now, lease end, row limit.
constexpr std::string_view kClaimMediaDeletions =
    "UPDATE media_deletions SET lease_owner = ?1, lease_until_ms = ?3 "
    "WHERE object_id IN (SELECT object_id FROM media_deletions WHERE lease_until_ms <= ?2 "
    "ORDER BY object_id LIMIT ?4) RETURNING object_id, storage_id";
constexpr std::string_view kDeleteMediaDeletion =
    "DELETE FROM media_deletions WHERE object_id = ?1";
// Keyset page of an object's referencing flows. Parameters: object, after (flow id, '' for the
// first page), row limit.
constexpr std::string_view kSelectObjectFlows =
    "SELECT flow_id FROM object_refs WHERE object_id = ?1 AND flow_id > ?2 "
    "ORDER BY flow_id LIMIT ?3";
// Garbage, each through its partial index (the WHERE terms repeat the index's so that SQLite
// may use it). Allocations never registered whose expiry passed. Parameters: now, row limit.
constexpr std::string_view kSelectExpiredObjects =
    "SELECT id, storage_id, allocated_for_flow, first_referenced_by_flow, reference_count, "
    "ever_referenced, expires_at FROM objects "
    "WHERE ever_referenced = 0 AND expires_at > 0 AND expires_at < ?1 "
    "ORDER BY expires_at LIMIT ?2";
// Objects whose last reference went. Parameter: row limit.
constexpr std::string_view kSelectUnreferencedObjects =
    "SELECT id, storage_id, allocated_for_flow, first_referenced_by_flow, reference_count, "
    "ever_referenced, expires_at FROM objects "
    "WHERE ever_referenced = 1 AND reference_count = 0 ORDER BY id LIMIT ?1";

// ---- Deletion requests ----

constexpr std::string_view kSelectDeletionRequest =
    "SELECT id, flow_id, doc FROM deletion_requests WHERE id = ?1";
constexpr std::string_view kSelectDeletionRequests =
    "SELECT id, flow_id, doc FROM deletion_requests ORDER BY created, id";
// Pending requests whose lease is free or ended get the lease. The subquery's WHERE repeats
// deletion_requests_pending's so that SQLite walks that partial index in (created, id) order.
// RETURNING rows come in no defined order: `created` is returned for sorting. Parameters: owner,
// now, lease end, row limit.
constexpr std::string_view kClaimDeletionRequests =
    "UPDATE deletion_requests SET lease_owner = ?1, lease_until_ms = ?3 "
    "WHERE id IN (SELECT id FROM deletion_requests WHERE status IN ('created', 'started') "
    "AND lease_until_ms <= ?2 ORDER BY created, id LIMIT ?4) "
    "RETURNING id, flow_id, doc, created";
// Progress of a claimed request, only while the owner holds it. Parameters: id, owner, status,
// expiry, doc, lease end.
constexpr std::string_view kUpdateHeldDeletionRequest =
    "UPDATE deletion_requests SET status = ?3, expiry = ?4, doc = ?5, lease_until_ms = ?6 "
    "WHERE id = ?1 AND lease_owner = ?2";
constexpr std::string_view kUpsertDeletionRequest =
    "INSERT INTO deletion_requests (id, flow_id, status, created, expiry, doc) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
    "ON CONFLICT (id) DO UPDATE SET flow_id = excluded.flow_id, status = excluded.status, "
    "created = excluded.created, expiry = excluded.expiry, doc = excluded.doc";
// RFC 3339 UTC timestamps in one fixed format compare as text. Parameter: now.
constexpr std::string_view kPurgeDeletionRequests =
    "DELETE FROM deletion_requests WHERE expiry < ?1";

constexpr std::array kTimelineStatements = {
    NamedSql{"kSegmentAtOrBefore", kSegmentAtOrBefore},
    NamedSql{"kFirstSegmentStartingIn", kFirstSegmentStartingIn},
    NamedSql{"kLastSegmentStartingBefore", kLastSegmentStartingBefore},
    NamedSql{"kSegmentStartingBefore", kSegmentStartingBefore},
    NamedSql{"kFlowHasAnySegment", kFlowHasAnySegment},
    NamedSql{"kListSegments", kListSegments},
    NamedSql{"kListSegmentsReverse", kListSegmentsReverse},
    NamedSql{"kListObjectSegments", kListObjectSegments},
    NamedSql{"kListObjectSegmentsReverse", kListObjectSegmentsReverse},
    NamedSql{"kInsertSegment", kInsertSegment},
    NamedSql{"kSelectObjectExists", kSelectObjectExists},
    NamedSql{"kReferenceObject", kReferenceObject},
    NamedSql{"kAddObjectRef", kAddObjectRef},
    NamedSql{"kSelectSegmentsFrom", kSelectSegmentsFrom},
    NamedSql{"kSelectObjectSegmentsFrom", kSelectObjectSegmentsFrom},
    NamedSql{"kDeleteSegment", kDeleteSegment},
    NamedSql{"kReleaseObjectRefs", kReleaseObjectRefs},
    NamedSql{"kDeleteObjectRefs", kDeleteObjectRefs},
    NamedSql{"kReleaseObject", kReleaseObject},
    NamedSql{"kSelectObject", kSelectObject},
    NamedSql{"kUpsertObject", kUpsertObject},
    NamedSql{"kDeleteObject", kDeleteObject},
    NamedSql{"kSelectObjectFlows", kSelectObjectFlows},
    NamedSql{"kSelectExpiredObjects", kSelectExpiredObjects},
    NamedSql{"kSelectUnreferencedObjects", kSelectUnreferencedObjects},
    NamedSql{"kSelectDeletionRequest", kSelectDeletionRequest},
    NamedSql{"kSelectDeletionRequests", kSelectDeletionRequests},
    NamedSql{"kClaimDeletionRequests", kClaimDeletionRequests},
    NamedSql{"kUpsertDeletionRequest", kUpsertDeletionRequest},
    NamedSql{"kPurgeDeletionRequests", kPurgeDeletionRequests},
    NamedSql{"kUpdateSegmentsUpdated", kUpdateSegmentsUpdated},
};

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

// ---- Webhooks ----

constexpr std::string_view kWebhooksRegistered = "SELECT EXISTS (SELECT 1 FROM webhooks)";
constexpr std::string_view kSelectWebhooks =
    "SELECT id, url, api_key_name, doc, base_url, cursor, attempts, next_attempt_ms, last_error "
    "FROM webhooks ORDER BY id";
// A new registration starts after the latest event; an update keeps id and progress.
// Parameters: url, api_key_name, doc, base_url.
constexpr std::string_view kUpsertWebhook =
    "INSERT INTO webhooks (url, api_key_name, doc, base_url, cursor) "
    "VALUES (?1, ?2, ?3, ?4, (SELECT COALESCE(max(seq), 0) FROM events)) "
    "ON CONFLICT (url, api_key_name) DO UPDATE SET doc = excluded.doc, "
    "base_url = excluded.base_url RETURNING id";
constexpr std::string_view kDeleteWebhook =
    "DELETE FROM webhooks WHERE url = ?1 AND api_key_name = ?2 RETURNING id";
// Free due registrations with events after their cursor are taken; the owner's own leases are
// renewed once less than half is left (?5: the renewal threshold). Rows needing neither are
// not written. Parameters: owner, now, lease end, row limit, renewal threshold.
constexpr std::string_view kClaimWebhooks =
    "UPDATE webhooks SET lease_owner = ?1, lease_until_ms = ?3 "
    "WHERE (lease_owner = ?1 AND lease_until_ms > ?2 AND lease_until_ms < ?5) "
    "OR id IN (SELECT w.id FROM webhooks w "
    "WHERE w.lease_until_ms <= ?2 AND w.next_attempt_ms <= ?2 "
    "AND EXISTS (SELECT 1 FROM events e WHERE e.seq > w.cursor) ORDER BY w.id LIMIT ?4)";
// Parameters: owner, now.
constexpr std::string_view kSelectHeldWebhooks =
    "SELECT id, url, api_key_name, doc, base_url, cursor, attempts, next_attempt_ms, last_error "
    "FROM webhooks WHERE lease_owner = ?1 AND lease_until_ms > ?2 ORDER BY id";
// Parameters: id, owner.
constexpr std::string_view kReleaseWebhook =
    "UPDATE webhooks SET lease_owner = '', lease_until_ms = 0 WHERE id = ?1 AND lease_owner = ?2";
// Only while the owner holds the registration. Parameters: id, owner, cursor, attempts, next
// attempt, last error.
constexpr std::string_view kUpdateWebhookProgress =
    "UPDATE webhooks SET cursor = ?3, attempts = ?4, next_attempt_ms = ?5, last_error = ?6 "
    "WHERE id = ?1 AND lease_owner = ?2";
constexpr std::string_view kInsertEvent =
    "INSERT INTO events (type, timestamp, subject, payload) VALUES (?1, ?2, ?3, ?4) "
    "RETURNING seq";
// Parameters: after, row limit.
constexpr std::string_view kSelectEventsAfter =
    "SELECT seq, type, timestamp, subject, payload FROM events WHERE seq > ?1 "
    "ORDER BY seq LIMIT ?2";
// Everything up to the smallest cursor; with no registration, everything.
constexpr std::string_view kPurgeEvents =
    "DELETE FROM events WHERE seq <= COALESCE((SELECT min(cursor) FROM webhooks), "
    "(SELECT max(seq) FROM events))";
constexpr std::string_view kInsertWebhookFailure =
    "INSERT INTO webhook_failures (webhook_id, url, event_seq, event_type, attempts, last_error, "
    "failed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr std::string_view kTrimWebhookFailures =
    "DELETE FROM webhook_failures WHERE id <= (SELECT max(id) FROM webhook_failures) - 1000";
constexpr std::string_view kSelectWebhookFailures =
    "SELECT webhook_id, url, event_seq, event_type, attempts, last_error, failed_at "
    "FROM webhook_failures ORDER BY id DESC LIMIT ?1";

// ---- Documents ----

// A flow's segments_updated column, when set, replaces whatever the document holds (segment
// writes update only the column). `column` is the column's index in the current row.
void merge_segments_updated(Document& flow, const Statement& statement, int column) {
  if (!statement.column_is_null(column)) {
    flow["segments_updated"] = statement.column_text(column);
  }
}

ObjectRecord read_object(const Statement& statement) {
  ObjectRecord object;
  object.id = statement.column_text(0);
  object.storage_id = statement.column_text(1);
  object.allocated_for_flow = statement.column_text(2);
  object.first_referenced_by_flow = statement.column_text(3);
  object.reference_count = statement.column_int64(4);
  object.ever_referenced = statement.column_int64(5) != 0;
  object.expires_at = statement.column_int64(6);
  return object;
}

// Columns: id, url, api_key_name, doc, base_url, cursor, attempts, next_attempt_ms, last_error.
WebhookRecord read_webhook(const Statement& statement) {
  WebhookRecord w;
  w.id = statement.column_int64(0);
  w.url = statement.column_text(1);
  w.api_key_name = statement.column_text(2);
  w.doc = parse_document(statement.column_text(3), "webhook", w.url);
  w.base_url = statement.column_text(4);
  w.cursor = statement.column_int64(5);
  w.attempts = statement.column_int64(6);
  w.next_attempt_ms = statement.column_int64(7);
  w.last_error = statement.column_text(8);
  return w;
}

// Binds a claim's owner, now, lease end and row limit as parameters 1 to 4.
void bind_claim(Statement& statement, const LeaseClaim& claim) {
  if (claim.owner.empty()) throw std::invalid_argument("lease claim without an owner");
  statement.bind(1, claim.owner).bind(2, claim.now_ms).bind(3, claim.until_ms).bind(4, claim.limit);
}

DeletionRequestRecord read_deletion_request(const Statement& statement) {
  DeletionRequestRecord request;
  request.id = statement.column_text(0);
  request.flow_id = statement.column_text(1);
  request.doc = parse_document(statement.column_text(2), "deletion request", request.id);
  return request;
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
  // With `segments_updated`, the select's third column is merged into each document.
  model::Page<Document> fetch(Connection& db, std::string_view name, std::string_view kind,
                              const model::PageRequest& page, bool segments_updated = false) {
    const int64_t rows = rows_for_page(page.limit, "list");
    if (!page.after.empty()) where(listing::kListAfterId, page.after);
    where(listing::kListOrderByIdLimit, rows);

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
      if (segments_updated) merge_segments_updated(result.items.back(), statement, 2);
    }
    return result;
  }

 private:
  std::string sql_;
  std::vector<Value> values_;
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
    Statement statement = db_.prepare("kSelectFlowById", kSelectFlowById);
    statement.bind(1, id);
    if (!statement.step()) return std::nullopt;
    Document flow = parse_document(statement.column_text(0), "flow", id);
    merge_segments_updated(flow, statement, 1);
    return flow;
  }

  model::Page<Document> list_sources(const SourceFilter& filter,
                                     const model::PageRequest& page) override {
    Listing listing(kListSources);
    listing::add_source_filters(listing, filter);
    return listing.fetch(db_, "kListSources", "source", page);
  }

  model::Page<Document> list_flows(const FlowFilter& filter,
                                   const model::PageRequest& page) override {
    Listing listing(kListFlows);
    listing::add_flow_filters(listing, filter);
    return listing.fetch(db_, "kListFlows", "flow", page, /*segments_updated=*/true);
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

  // ---- Segments ----

  model::Page<SegmentRecord> list_segments(const SegmentQuery& query) override {
    const int64_t rows = rows_for_page(query.page.limit, "list_segments");
    model::Page<SegmentRecord> result;
    result.limit = query.page.limit;
    const auto window = segment_page_window(query, [&](int64_t point) {
      Statement edge = db_.prepare("kSegmentStartingBefore", kSegmentStartingBefore);
      edge.bind(1, query.flow_id).bind(2, point);
      return edge.step() ? std::optional(std::make_pair(edge.column_int64(0), edge.column_int64(1)))
                         : std::nullopt;
    });
    if (!window) return result;
    const auto [lowest, highest] = *window;

    const bool by_object = query.object_id.has_value();
    Statement statement =
        query.reverse_order
            ? (by_object ? db_.prepare("kListObjectSegmentsReverse", kListObjectSegmentsReverse)
                         : db_.prepare("kListSegmentsReverse", kListSegmentsReverse))
            : (by_object ? db_.prepare("kListObjectSegments", kListObjectSegments)
                         : db_.prepare("kListSegments", kListSegments));
    statement.bind(1, query.flow_id).bind(2, lowest).bind(3, highest).bind(4, rows);
    if (by_object) statement.bind(5, *query.object_id);
    while (statement.step()) {
      if (static_cast<int64_t>(result.items.size()) == query.page.limit) {
        result.next = std::to_string(result.items.back().start_ns);
        break;
      }
      SegmentRecord segment;
      segment.flow_id = query.flow_id;
      segment.start_ns = statement.column_int64(0);
      segment.end_ns = statement.column_int64(1);
      segment.object_id = statement.column_text(2);
      segment.doc_json = statement.column_text(3);
      segment.storage_id = statement.column_text(4);
      result.items.push_back(std::move(segment));
    }
    return result;
  }

  bool segment_overlaps(const std::string& flow_id, int64_t start_ns, int64_t end_ns) override {
    if (start_ns >= end_ns) return false;
    // The last segment starting before the end is the only candidate: it overlaps iff it ends
    // after the start.
    Statement statement = db_.prepare("kSegmentStartingBefore", kSegmentStartingBefore);
    statement.bind(1, flow_id).bind(2, end_ns);
    return statement.step() && statement.column_int64(1) > start_ns;
  }

  bool has_segments(const std::string& flow_id) override {
    Statement statement = db_.prepare("kFlowHasAnySegment", kFlowHasAnySegment);
    statement.bind(1, flow_id);
    return statement.step();
  }

  // ---- Objects ----

  std::optional<ObjectRecord> get_object(const std::string& id) override {
    Statement statement = db_.prepare("kSelectObject", kSelectObject);
    statement.bind(1, id);
    if (!statement.step()) return std::nullopt;
    return read_object(statement);
  }

  model::Page<std::string> object_flows(const std::string& object_id,
                                        const model::PageRequest& page) override {
    const int64_t rows = rows_for_page(page.limit, "object_flows");
    Statement statement = db_.prepare("kSelectObjectFlows", kSelectObjectFlows);
    statement.bind(1, object_id).bind(2, page.after).bind(3, rows);
    model::Page<std::string> result;
    result.limit = page.limit;
    while (statement.step()) {
      if (static_cast<int64_t>(result.items.size()) == page.limit) {
        result.next = result.items.back();
        break;
      }
      result.items.push_back(statement.column_text(0));
    }
    return result;
  }

  std::vector<ObjectRecord> garbage_objects(int64_t now, int64_t limit) override {
    std::vector<ObjectRecord> objects;
    if (limit < 1) return objects;
    {
      Statement expired = db_.prepare("kSelectExpiredObjects", kSelectExpiredObjects);
      expired.bind(1, now).bind(2, limit);
      while (expired.step()) objects.push_back(read_object(expired));
    }
    const int64_t left = limit - static_cast<int64_t>(objects.size());
    if (left > 0) {
      Statement unreferenced =
          db_.prepare("kSelectUnreferencedObjects", kSelectUnreferencedObjects);
      unreferenced.bind(1, left);
      while (unreferenced.step()) objects.push_back(read_object(unreferenced));
    }
    return objects;
  }

  // ---- Deletion requests ----

  std::optional<DeletionRequestRecord> get_deletion_request(const std::string& id) override {
    Statement statement = db_.prepare("kSelectDeletionRequest", kSelectDeletionRequest);
    statement.bind(1, id);
    if (!statement.step()) return std::nullopt;
    return read_deletion_request(statement);
  }

  std::vector<DeletionRequestRecord> list_deletion_requests() override {
    return select_deletion_requests("kSelectDeletionRequests", kSelectDeletionRequests);
  }


  // ---- Webhooks ----

  bool webhooks_registered() override {
    Statement statement = db_.prepare("kWebhooksRegistered", kWebhooksRegistered);
    return statement.step() && statement.column_int64(0) != 0;
  }

  std::vector<WebhookRecord> list_webhooks() override {
    Statement statement = db_.prepare("kSelectWebhooks", kSelectWebhooks);
    std::vector<WebhookRecord> webhooks;
    while (statement.step()) webhooks.push_back(read_webhook(statement));
    return webhooks;
  }

  std::vector<EventRecord> events_after(int64_t after, int64_t limit) override {
    std::vector<EventRecord> events;
    if (limit < 1) return events;
    Statement statement = db_.prepare("kSelectEventsAfter", kSelectEventsAfter);
    statement.bind(1, after).bind(2, limit);
    while (statement.step()) {
      EventRecord e;
      e.seq = statement.column_int64(0);
      e.type = statement.column_text(1);
      e.timestamp = statement.column_text(2);
      const std::string seq = std::to_string(e.seq);
      e.subject = parse_document(statement.column_text(3), "event subject", seq);
      e.payload = parse_document(statement.column_text(4), "event payload", seq);
      events.push_back(std::move(e));
    }
    return events;
  }

  std::vector<WebhookFailureRecord> list_webhook_failures(int64_t limit) override {
    std::vector<WebhookFailureRecord> failures;
    if (limit < 1) return failures;
    Statement statement = db_.prepare("kSelectWebhookFailures", kSelectWebhookFailures);
    statement.bind(1, limit);
    while (statement.step()) {
      failures.push_back(WebhookFailureRecord{statement.column_int64(0), statement.column_text(1),
                                              statement.column_int64(2), statement.column_text(3),
                                              statement.column_int64(4), statement.column_text(5),
                                              statement.column_text(6)});
    }
    return failures;
  }

  int64_t add_event(const EventRecord& event) override {
    Statement insert = db_.prepare("kInsertEvent", kInsertEvent);
    insert.bind(1, event.type)
        .bind(2, event.timestamp)
        .bind(3, boost::json::serialize(event.subject))
        .bind(4, boost::json::serialize(event.payload));
    if (!insert.step()) throw std::runtime_error("add_event: no seq returned");
    const int64_t seq = insert.column_int64(0);
    insert.run();
    ++events_added_;
    return seq;
  }

  int64_t put_webhook(const WebhookRecord& webhook) override {
    if (webhook.url.empty()) throw std::invalid_argument("put_webhook: empty url");
    Statement upsert = db_.prepare("kUpsertWebhook", kUpsertWebhook);
    upsert.bind(1, webhook.url)
        .bind(2, webhook.api_key_name)
        .bind(3, boost::json::serialize(webhook.doc))
        .bind(4, webhook.base_url);
    if (!upsert.step()) throw std::runtime_error("put_webhook: no id returned");
    const int64_t id = upsert.column_int64(0);
    upsert.run();
    return id;
  }

  bool delete_webhook(const std::string& url, const std::string& api_key_name) override {
    Statement del = db_.prepare("kDeleteWebhook", kDeleteWebhook);
    del.bind(1, url).bind(2, api_key_name);
    const bool found = del.step();
    if (found) del.run();
    return found;
  }

  std::vector<WebhookRecord> claim_webhooks(const LeaseClaim& claim) override {
    {
      Statement update = db_.prepare("kClaimWebhooks", kClaimWebhooks);
      bind_claim(update, claim);
      update.bind(5, claim.now_ms + (claim.until_ms - claim.now_ms) / 2).run();
    }
    Statement held = db_.prepare("kSelectHeldWebhooks", kSelectHeldWebhooks);
    held.bind(1, claim.owner).bind(2, claim.now_ms);
    std::vector<WebhookRecord> webhooks;
    while (held.step()) webhooks.push_back(read_webhook(held));
    return webhooks;
  }

  bool release_webhook(int64_t id, const std::string& owner) override {
    db_.prepare("kReleaseWebhook", kReleaseWebhook).bind(1, id).bind(2, owner).run();
    return sqlite3_changes64(db_.handle()) > 0;
  }

  bool set_webhook_progress(int64_t id, const std::string& owner, int64_t cursor,
                            int64_t attempts, int64_t next_attempt_ms,
                            const std::string& last_error) override {
    db_.prepare("kUpdateWebhookProgress", kUpdateWebhookProgress)
        .bind(1, id)
        .bind(2, owner)
        .bind(3, cursor)
        .bind(4, attempts)
        .bind(5, next_attempt_ms)
        .bind(6, last_error)
        .run();
    return sqlite3_changes64(db_.handle()) > 0;
  }

  void add_webhook_failure(const WebhookFailureRecord& failure) override {
    db_.prepare("kInsertWebhookFailure", kInsertWebhookFailure)
        .bind(1, failure.webhook_id)
        .bind(2, failure.url)
        .bind(3, failure.event_seq)
        .bind(4, failure.event_type)
        .bind(5, failure.attempts)
        .bind(6, failure.last_error)
        .bind(7, failure.failed_at)
        .run();
    db_.prepare("kTrimWebhookFailures", kTrimWebhookFailures).run();
  }

  int64_t purge_events() override {
    db_.prepare("kPurgeEvents", kPurgeEvents).run();
    return sqlite3_changes64(db_.handle());
  }

  // Events added in this transaction (for the store's event listener).
  int64_t events_added() const { return events_added_; }
  // Segments inserted minus segments deleted in this transaction (for stored_counts).
  int64_t segments_delta() const { return segments_delta_; }

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
    const boost::json::object* essence_object = video_essence(flow, format);
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

  void set_segments_updated(const std::string& flow_id, const std::string& when) override {
    db_.prepare("kUpdateSegmentsUpdated", kUpdateSegmentsUpdated)
        .bind(1, flow_id)
        .bind(2, when)
        .run();
  }

  void insert_segment(const SegmentRecord& segment) override {
    if (segment.start_ns >= segment.end_ns) {
      throw std::invalid_argument("insert_segment: empty timerange for a segment of flow " +
                                  segment.flow_id);
    }
    {
      // Nothing is written unless the object exists and the position is free, so a failure
      // leaves the transaction as it was.
      Statement insert = db_.prepare("kInsertSegment", kInsertSegment);
      insert.bind(1, segment.flow_id)
          .bind(2, segment.start_ns)
          .bind(3, segment.end_ns)
          .bind(4, segment.object_id)
          .bind(5, boost::json::serialize(segment.doc));
      insert.run();
      if (sqlite3_changes(db_.handle()) == 0) {
        Statement exists = db_.prepare("kSelectObjectExists", kSelectObjectExists);
        exists.bind(1, segment.object_id);
        if (!exists.step()) {
          throw std::logic_error("insert_segment: no object row for object " + segment.object_id);
        }
        throw std::logic_error("insert_segment: flow " + segment.flow_id +
                               " already has a segment starting at " +
                               std::to_string(segment.start_ns));
      }
    }
    db_.prepare("kReferenceObject", kReferenceObject)
        .bind(1, segment.object_id)
        .bind(2, segment.flow_id)
        .run();
    db_.prepare("kAddObjectRef", kAddObjectRef)
        .bind(1, segment.object_id)
        .bind(2, segment.flow_id)
        .run();
    ++segments_delta_;
  }

  std::vector<SegmentRecord> delete_segments(const std::string& flow_id,
                                             const time::TimeRange& range,
                                             const std::optional<std::string>& object_id,
                                             int64_t limit) override {
    std::vector<SegmentRecord> deleted;
    if (range.is_empty() || limit < 1) return deleted;
    {
      // Covered segments start at or after range.start and end by range.end. Walking in start
      // (= end) order, the first that ends after range.end ends the walk: rows read are at most
      // the deleted ones plus one.
      Statement select = object_id
                             ? db_.prepare("kSelectObjectSegmentsFrom", kSelectObjectSegmentsFrom)
                             : db_.prepare("kSelectSegmentsFrom", kSelectSegmentsFrom);
      select.bind(1, flow_id).bind(2, range.start()).bind(3, range.end()).bind(4, limit);
      if (object_id) select.bind(5, *object_id);
      while (select.step()) {
        if (select.column_int64(1) > range.end()) break;
        SegmentRecord segment;
        segment.flow_id = flow_id;
        segment.start_ns = select.column_int64(0);
        segment.end_ns = select.column_int64(1);
        segment.object_id = select.column_text(2);
        segment.doc = parse_document(select.column_text(3), "segment of flow", flow_id);
        deleted.push_back(std::move(segment));
      }
    }
    // Deleted after the walk has finished: SQLite leaves changes under a running SELECT of the
    // same table undefined.
    std::map<std::string, int64_t> released;  // object id -> references released
    for (const SegmentRecord& segment : deleted) {
      db_.prepare("kDeleteSegment", kDeleteSegment)
          .bind(1, flow_id)
          .bind(2, segment.start_ns)
          .run();
      ++released[segment.object_id];
    }
    for (const auto& [object, count] : released) {
      bool gone = false;
      {
        Statement refs = db_.prepare("kReleaseObjectRefs", kReleaseObjectRefs);
        refs.bind(1, object).bind(2, flow_id).bind(3, count);
        if (refs.step()) {
          gone = refs.column_int64(0) <= 0;
          refs.run();
        }
      }
      if (gone)
        db_.prepare("kDeleteObjectRefs", kDeleteObjectRefs).bind(1, object).bind(2, flow_id).run();
      db_.prepare("kReleaseObject", kReleaseObject).bind(1, object).bind(2, count).run();
    }
    segments_delta_ -= static_cast<int64_t>(deleted.size());
    return deleted;
  }

  void put_object(const ObjectRecord& object) override {
    if (object.id.empty()) throw std::invalid_argument("put_object: empty object id");
    db_.prepare("kUpsertObject", kUpsertObject)
        .bind(1, object.id)
        .bind(2, object.storage_id)
        .bind(3, object.allocated_for_flow)
        .bind(4, object.first_referenced_by_flow)
        .bind(5, object.reference_count)
        .bind(6, int64_t{object.ever_referenced ? 1 : 0})
        .bind(7, object.expires_at)
        .run();
  }

  void delete_object(const std::string& id) override {
    db_.prepare("kDeleteObject", kDeleteObject).bind(1, id).run();
  }

  std::vector<ObjectRecord> take_garbage_objects(int64_t now, int64_t limit) override {
    // Read and deleted by the one writer inside one transaction: nothing changes in between.
    std::vector<ObjectRecord> taken = garbage_objects(now, limit);
    for (const ObjectRecord& object : taken) {
      delete_object(object.id);
      if (object.storage_id.empty()) continue;  // external: no bytes of ours
      db_.prepare("kInsertMediaDeletion", kInsertMediaDeletion)
          .bind(1, object.id)
          .bind(2, object.storage_id)
          .run();
    }
    return taken;
  }

  std::vector<MediaDeletionRecord> claim_media_deletions(const LeaseClaim& claim) override {
    return claim_rows("kClaimMediaDeletions", kClaimMediaDeletions, claim,
                      [](const Statement& statement) {
                        return MediaDeletionRecord{statement.column_text(0),
                                                   statement.column_text(1)};
                      });
  }

  void delete_media_deletion(const std::string& object_id) override {
    db_.prepare("kDeleteMediaDeletion", kDeleteMediaDeletion).bind(1, object_id).run();
  }

  void put_deletion_request(const DeletionRequestRecord& request) override {
    if (request.id.empty()) throw std::invalid_argument("put_deletion_request: empty id");
    const std::string_view status = required_string(request.doc, "status", "put_deletion_request");
    Statement upsert = db_.prepare("kUpsertDeletionRequest", kUpsertDeletionRequest);
    upsert.bind(1, request.id).bind(2, request.flow_id).bind(3, status);
    bind_optional(upsert, 4, optional_string(request.doc, "created"));
    bind_optional(upsert, 5, optional_string(request.doc, "expiry"));
    upsert.bind(6, boost::json::serialize(request.doc)).run();
  }

  std::vector<DeletionRequestRecord> claim_deletion_requests(const LeaseClaim& claim) override {
    // (created, request): RETURNING gives no order.
    std::vector<std::pair<std::string, DeletionRequestRecord>> claimed =
        claim_rows("kClaimDeletionRequests", kClaimDeletionRequests, claim,
                   [](const Statement& statement) {
                     return std::make_pair(statement.column_text(3),
                                           read_deletion_request(statement));
                   });
    return oldest_first(std::move(claimed));
  }

  bool update_deletion_request(const DeletionRequestRecord& request, const std::string& owner,
                               int64_t until_ms) override {
    const std::string_view status =
        required_string(request.doc, "status", "update_deletion_request");
    Statement update = db_.prepare("kUpdateHeldDeletionRequest", kUpdateHeldDeletionRequest);
    update.bind(1, request.id).bind(2, owner).bind(3, status);
    bind_optional(update, 4, optional_string(request.doc, "expiry"));
    update.bind(5, boost::json::serialize(request.doc)).bind(6, until_ms).run();
    return sqlite3_changes64(db_.handle()) > 0;
  }

  void purge_deletion_requests(const std::string& now_rfc3339) override {
    db_.prepare("kPurgeDeletionRequests", kPurgeDeletionRequests).bind(1, now_rfc3339).run();
  }

 private:
  std::optional<Document> get_document(std::string_view name, std::string_view sql,
                                       std::string_view kind, const std::string& id) {
    Statement statement = db_.prepare(name, sql);
    statement.bind(1, id);
    if (!statement.step()) return std::nullopt;
    return parse_document(statement.column_text(0), kind, id);
  }

  // Runs a claim statement (parameters: owner, now, lease end, row limit; see bind_claim) and
  // reads each returned row with `read`.
  template <class Read>
  auto claim_rows(std::string_view name, std::string_view sql, const LeaseClaim& claim, Read read)
      -> std::vector<decltype(read(std::declval<const Statement&>()))> {
    std::vector<decltype(read(std::declval<const Statement&>()))> rows;
    if (claim.limit < 1) return rows;
    Statement statement = db_.prepare(name, sql);
    bind_claim(statement, claim);
    while (statement.step()) rows.push_back(read(statement));
    return rows;
  }

  std::vector<DeletionRequestRecord> select_deletion_requests(std::string_view name,
                                                              std::string_view sql) {
    Statement statement = db_.prepare(name, sql);
    std::vector<DeletionRequestRecord> requests;
    while (statement.step()) requests.push_back(read_deletion_request(statement));
    return requests;
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
  int64_t events_added_ = 0;
  int64_t segments_delta_ = 0;
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

std::span<const NamedSql> timeline_statements() { return kTimelineStatements; }

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
  writer_->exec("kPragmaWriterCacheSize", kPragmaWriterCacheSize);
  writer_->exec("kPragmaTempStoreMemory", kPragmaTempStoreMemory);
  migrate(*writer_);
}

SqliteStore::~SqliteStore() = default;

std::unique_ptr<Connection> SqliteStore::acquire_reader() {
  readers_in_use_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      idle_count_.store(idle_readers_.size(), std::memory_order_relaxed);
      return reader;
    }
  }
  try {
    auto reader = std::make_unique<Connection>(path_, Connection::Mode::kReadOnly);
    sqlite3_busy_timeout(reader->handle(), options_.busy_timeout_ms);
    reader->exec("kPragmaReaderCacheSize", kPragmaReaderCacheSize);
    return reader;
  } catch (...) {
    readers_in_use_.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
}

void SqliteStore::release_reader(std::unique_ptr<Connection> reader) {
  readers_in_use_.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lock(readers_mutex_);
  if (reader && idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(reader));
  idle_count_.store(idle_readers_.size(), std::memory_order_relaxed);
}

std::vector<PoolConnections> SqliteStore::pool_usage() const {
  return {{"sqlite", "reader", "in_use", readers_in_use_.load(std::memory_order_relaxed)},
          {"sqlite", "reader", "idle", idle_count_.load(std::memory_order_relaxed)},
          {"sqlite", "writer", "in_use", writer_busy_.load(std::memory_order_relaxed)}};
}

std::optional<std::string> SqliteStore::not_ready() {
  try {
    // One indexed read in a read transaction: the database opens, locks and answers.
    read([](Reader& r) { r.get_setting("name"); });
  } catch (const std::exception& e) {
    return e.what();
  }
  return std::nullopt;
}

StoredCounts SqliteStore::stored_counts() {
  StoredCounts counts;
  std::unique_ptr<Connection> db = acquire_reader();
  try {
    Statement statement = db->prepare("kSelectStoredCounts", kSelectStoredCounts);
    while (statement.step()) {
      const std::string name = statement.column_text(0);
      const int64_t n = statement.column_int64(1);
      if (name == "segments") counts.segments = n;
      if (name == "flows") counts.flows = n;
      if (name == "sources") counts.sources = n;
    }
  } catch (...) {
    release_reader(std::move(db));
    throw;
  }
  release_reader(std::move(db));
  return counts;
}

void SqliteStore::read(const std::function<void(Reader&)>& fn) {
  std::unique_ptr<Connection> db = acquire_reader();
  try {
    db->prepare("kBeginRead", kBeginRead).run();
    Transaction transaction(*db);
    fn(transaction);
    db->prepare("kCommitRead", kCommit).run();
  } catch (...) {
    // A connection that cannot end its transaction is dropped rather than reused.
    if (!db->rollback()) db.reset();
    release_reader(std::move(db));
    throw;
  }
  release_reader(std::move(db));
}

void SqliteStore::write(const std::function<void(WriteTransaction&)>& fn) {
  if (writing_thread_.load() == std::this_thread::get_id()) {
    throw std::logic_error("SqliteStore::write() called from inside write() on the same thread");
  }
  PendingWrite pending{&fn, nullptr, false};
  write_batches_.submit(&pending,
                        [this](std::span<PendingWrite* const> batch) { write_batch(batch); });
  if (pending.error) std::rethrow_exception(pending.error);
  if (pending.events_added && event_listener_) event_listener_();
}

bool SqliteStore::run_write(const std::function<void(WriteTransaction&)>& fn) {
  Transaction transaction(*writer_);
  fn(transaction);
  if (transaction.segments_delta() != 0) {
    writer_->prepare("kAddStoredSegments", kAddStoredSegments)
        .bind(1, transaction.segments_delta())
        .run();
  }
  return transaction.events_added() > 0;
}

void SqliteStore::write_batch(std::span<PendingWrite* const> batch) noexcept {
  std::lock_guard lock(write_mutex_);
  WritingThreadMark mark(writing_thread_);
  struct Busy {
    std::atomic<int64_t>& flag;
    explicit Busy(std::atomic<int64_t>& f) : flag(f) { flag.store(1, std::memory_order_relaxed); }
    ~Busy() { flag.store(0, std::memory_order_relaxed); }
  } busy(writer_busy_);
  auto fail_all = [&](std::exception_ptr error) {
    for (PendingWrite* w : batch) {
      if (!w->error) w->error = error;
      w->events_added = false;
    }
  };
  // Heals a connection left inside a transaction by an earlier failed rollback.
  if (!writer_->rollback()) {
    fail_all(std::make_exception_ptr(
        std::runtime_error("SQLite writer connection cannot end an earlier transaction")));
    return;
  }
  try {
    writer_->prepare("kBeginWrite", kBeginWrite).run();
    if (batch.size() == 1) {
      // Alone: the write's failure is the transaction's.
      batch[0]->events_added = run_write(*batch[0]->fn);
    } else {
      // Together: each write in a savepoint, so a failing one leaves the others as they were.
      for (PendingWrite* w : batch) {
        writer_->prepare("kSavepointWrite", kSavepointWrite).run();
        try {
          w->events_added = run_write(*w->fn);
        } catch (...) {
          w->error = std::current_exception();
          // Some errors (I/O, disk full) end the whole transaction; then every write fails.
          if (sqlite3_get_autocommit(writer_->handle()) != 0) throw;
          writer_->prepare("kRollbackToWrite", kRollbackToWrite).run();
        }
        writer_->prepare("kReleaseWrite", kReleaseWrite).run();
      }
    }
    writer_->prepare("kCommit", kCommit).run();
  } catch (...) {
    writer_->rollback();
    fail_all(std::current_exception());
  }
}

void SqliteStore::set_event_listener(std::function<void()> listener) {
  event_listener_ = std::move(listener);
}

}  // namespace tams::store::sqlite
