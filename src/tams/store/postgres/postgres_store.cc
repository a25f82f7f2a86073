#include "tams/store/postgres/postgres_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <variant>

#include "tams/store/document_fields.h"
#include "tams/store/listing_filters.h"
#include "tams/store/postgres/change_feed.h"
#include "tams/store/postgres/change_notice.h"
#include "tams/store/postgres/connection.h"
#include "tams/store/postgres/endpoint.h"
#include "tams/store/postgres/health_check.h"
#include "tams/store/postgres/migrations.h"
#include "tams/store/postgres/read_routing.h"
#include "tams/store/read_affinity.h"

namespace tams::store::postgres {

namespace {

// The SQL mirrors the SQLite store's (sqlite/sqlite_store.cc explains the shape of each query);
// differences are PostgreSQL's: $n parameters, explicit casts where a parameter's type cannot be
// inferred, GREATEST for max(), ->> for json_extract, no INDEXED BY (the planner picks
// segments_by_object by itself; tests/unit/postgres_store_test.cc checks the plans).

// ---- Transactions ----

constexpr std::string_view kBeginRead = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
constexpr std::string_view kBeginWrite = "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE";
// Serializes write transactions across every tams instance on the database (key: "tams").
constexpr int64_t kWriteLockKey = 0x74616d73;
constexpr std::string_view kWriteLock = "SELECT pg_advisory_xact_lock($1::bigint)";
constexpr std::string_view kCommit = "COMMIT";
// Delivered to every listening instance when (and only if) the transaction commits.
constexpr std::string_view kNotifyChanges = "SELECT pg_notify($1, $2)";
constexpr std::string_view kAddStoredSegments =
    "UPDATE stored_counts SET n = n + $1 WHERE name = 'segments'";
constexpr std::string_view kSelectStoredCounts = "SELECT name, n FROM stored_counts";
constexpr std::string_view kSelectOne = "SELECT 1";

// ---- Sources ----

constexpr std::string_view kSelectSourceById = "SELECT doc FROM sources WHERE id = $1";
constexpr std::string_view kUpsertSource =
    "INSERT INTO sources (id, format, label, doc) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (id) DO UPDATE SET format = excluded.format, label = excluded.label, "
    "doc = excluded.doc";
constexpr std::string_view kDeleteSource = "DELETE FROM sources WHERE id = $1";
constexpr std::string_view kDeleteSourceTags = "DELETE FROM source_tags WHERE source_id = $1";
constexpr std::string_view kInsertSourceTag =
    "INSERT INTO source_tags (source_id, name, value) VALUES ($1, $2, $3)";

// Listings: kListSources / kListFlows, then the fragments of listing_filters.h, each '?' of them
// turned into the next $n.
constexpr std::string_view kListSources = "SELECT id, doc FROM sources WHERE TRUE";

// ---- Flows ----

constexpr std::string_view kSelectFlowById =
    "SELECT doc, segments_updated FROM flows WHERE id = $1";
constexpr std::string_view kUpsertFlow =
    "INSERT INTO flows (id, source_id, format, codec, label, frame_width, frame_height, doc) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    "ON CONFLICT (id) DO UPDATE SET source_id = excluded.source_id, format = excluded.format, "
    "codec = excluded.codec, label = excluded.label, frame_width = excluded.frame_width, "
    "frame_height = excluded.frame_height, doc = excluded.doc";
constexpr std::string_view kDeleteFlow = "DELETE FROM flows WHERE id = $1";
constexpr std::string_view kUpdateSegmentsUpdated =
    "UPDATE flows SET segments_updated = $2 WHERE id = $1";
constexpr std::string_view kDeleteFlowTags = "DELETE FROM flow_tags WHERE flow_id = $1";
constexpr std::string_view kInsertFlowTag =
    "INSERT INTO flow_tags (flow_id, name, value) VALUES ($1, $2, $3)";
constexpr std::string_view kDeleteFlowCollection =
    "DELETE FROM flow_collections WHERE collector_id = $1";
constexpr std::string_view kInsertFlowCollectionItem =
    "INSERT INTO flow_collections (collector_id, position, member_id, role) "
    "VALUES ($1, $2, $3, $4)";

constexpr std::string_view kListFlows = "SELECT id, doc, segments_updated FROM flows WHERE TRUE";

constexpr std::string_view kSegmentAtOrBefore =
    "SELECT end_ns, doc::json ->> 'timerange' FROM segments "
    "WHERE flow_id = $1 AND start_ns <= $2 ORDER BY start_ns DESC LIMIT 1";
constexpr std::string_view kFirstSegmentStartingIn =
    "SELECT end_ns, doc::json ->> 'timerange' FROM segments "
    "WHERE flow_id = $1 AND start_ns > $2 AND start_ns < $3 ORDER BY start_ns ASC LIMIT 1";
constexpr std::string_view kLastSegmentStartingBefore =
    "SELECT end_ns, doc::json ->> 'timerange' FROM segments "
    "WHERE flow_id = $1 AND start_ns < $2 ORDER BY start_ns DESC LIMIT 1";


// ---- Segments ----

constexpr std::string_view kSegmentStartingBefore =
    "SELECT start_ns, end_ns FROM segments WHERE flow_id = $1 AND start_ns < $2 "
    "ORDER BY start_ns DESC LIMIT 1";
constexpr std::string_view kFlowHasAnySegment = "SELECT 1 FROM segments WHERE flow_id = $1 LIMIT 1";

// Segment pages: one index seek, then `limit` steps (segments_pkey, or segments_by_object for
// the object variants). Parameters: flow, lowest start (inclusive), highest start (exclusive),
// row limit, and the object for the object variants.
constexpr std::string_view kListSegments =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id FROM segments s "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.flow_id = $1 AND s.start_ns >= $2 AND s.start_ns < $3 "
    "ORDER BY s.start_ns LIMIT $4";
constexpr std::string_view kListSegmentsReverse =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id FROM segments s "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.flow_id = $1 AND s.start_ns >= $2 AND s.start_ns < $3 "
    "ORDER BY s.start_ns DESC LIMIT $4";
constexpr std::string_view kListObjectSegments =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id FROM segments s "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.object_id = $5 AND s.flow_id = $1 AND s.start_ns >= $2 AND s.start_ns < $3 "
    "ORDER BY s.start_ns LIMIT $4";
constexpr std::string_view kListObjectSegmentsReverse =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id FROM segments s "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.object_id = $5 AND s.flow_id = $1 AND s.start_ns >= $2 AND s.start_ns < $3 "
    "ORDER BY s.start_ns DESC LIMIT $4";

// The same pages with the edge look-up inside (segment_page_bounds): one statement, so a page
// read needs no transaction around it. The lower bound is $2, or, when the last segment starting
// before $5 ends after $5, max(its start, $6). The look-up is an uncorrelated subquery (an
// InitPlan: one backwards seek, without an end_ns condition, which would walk every earlier
// segment). Parameters: flow, lowest, highest, row limit, edge point, floor, and the object for
// the object variants.
#define TAMS_PG_EDGE_LOWEST                                                                    \
  "COALESCE((SELECT CASE WHEN e.end_ns > $5 THEN GREATEST(e.start_ns, $6) END FROM segments e " \
  "WHERE e.flow_id = $1 AND e.start_ns < $5 ORDER BY e.start_ns DESC LIMIT 1), $2)"
constexpr std::string_view kListSegmentsFromEdge =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id FROM segments s "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.flow_id = $1 AND s.start_ns >= " TAMS_PG_EDGE_LOWEST " AND s.start_ns < $3 "
    "ORDER BY s.start_ns LIMIT $4";
constexpr std::string_view kListSegmentsFromEdgeReverse =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id FROM segments s "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.flow_id = $1 AND s.start_ns >= " TAMS_PG_EDGE_LOWEST " AND s.start_ns < $3 "
    "ORDER BY s.start_ns DESC LIMIT $4";
constexpr std::string_view kListObjectSegmentsFromEdge =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id FROM segments s "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.object_id = $7 AND s.flow_id = $1 AND s.start_ns >= " TAMS_PG_EDGE_LOWEST
    " AND s.start_ns < $3 ORDER BY s.start_ns LIMIT $4";
constexpr std::string_view kListObjectSegmentsFromEdgeReverse =
    "SELECT s.start_ns, s.end_ns, s.object_id, s.doc, o.storage_id FROM segments s "
    "LEFT JOIN objects o ON o.id = s.object_id "
    "WHERE s.object_id = $7 AND s.flow_id = $1 AND s.start_ns >= " TAMS_PG_EDGE_LOWEST
    " AND s.start_ns < $3 ORDER BY s.start_ns DESC LIMIT $4";
#undef TAMS_PG_EDGE_LOWEST

// Inserts the segment only when its object row exists and the position is free, and counts the
// reference on the object's row and in object_refs, in one round trip (the SQLite store runs
// three statements). Data-modifying CTEs all run to completion; the two counters only act when
// the insert did. Answers one row: segments inserted (0 or 1), objects referenced, refs counted.
// Parameters: flow, start, end, object, doc.
constexpr std::string_view kInsertSegment =
    "WITH inserted AS ("
    "INSERT INTO segments (flow_id, start_ns, end_ns, object_id, doc) "
    "SELECT $1::text, $2::bigint, $3::bigint, $4::text, $5::text "
    "WHERE EXISTS (SELECT 1 FROM objects WHERE id = $4::text) "
    "ON CONFLICT (flow_id, start_ns) DO NOTHING RETURNING 1), "
    "referenced AS ("
    "UPDATE objects SET reference_count = reference_count + 1, ever_referenced = 1, "
    "first_referenced_by_flow = COALESCE(first_referenced_by_flow, $1::text) "
    "WHERE id = $4::text AND EXISTS (SELECT 1 FROM inserted) RETURNING 1), "
    "counted AS ("
    "INSERT INTO object_refs (object_id, flow_id, segment_count) "
    "SELECT $4::text, $1::text, 1 WHERE EXISTS (SELECT 1 FROM inserted) "
    "ON CONFLICT (object_id, flow_id) DO UPDATE "
    "SET segment_count = object_refs.segment_count + 1 RETURNING 1) "
    "SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM referenced), "
    "(SELECT count(*) FROM counted)";
constexpr std::string_view kSelectObjectExists = "SELECT 1 FROM objects WHERE id = $1";

constexpr std::string_view kSelectSegmentsFrom =
    "SELECT start_ns, end_ns, object_id, doc FROM segments "
    "WHERE flow_id = $1 AND start_ns >= $2 AND start_ns < $3 ORDER BY start_ns LIMIT $4";
constexpr std::string_view kSelectObjectSegmentsFrom =
    "SELECT start_ns, end_ns, object_id, doc FROM segments "
    "WHERE object_id = $5 AND flow_id = $1 AND start_ns >= $2 AND start_ns < $3 "
    "ORDER BY start_ns LIMIT $4";
constexpr std::string_view kDeleteSegment =
    "DELETE FROM segments WHERE flow_id = $1 AND start_ns = $2";
constexpr std::string_view kReleaseObjectRefs =
    "UPDATE object_refs SET segment_count = segment_count - $3 "
    "WHERE object_id = $1 AND flow_id = $2 RETURNING segment_count";
constexpr std::string_view kDeleteObjectRefs =
    "DELETE FROM object_refs WHERE object_id = $1 AND flow_id = $2";
constexpr std::string_view kReleaseObject =
    "UPDATE objects SET reference_count = GREATEST(reference_count - $2, 0) WHERE id = $1";

// ---- Objects ----

constexpr std::string_view kSelectObject =
    "SELECT id, storage_id, allocated_for_flow, first_referenced_by_flow, reference_count, "
    "ever_referenced, expires_at FROM objects WHERE id = $1";
constexpr std::string_view kUpsertObject =
    "INSERT INTO objects (id, storage_id, allocated_for_flow, first_referenced_by_flow, "
    "reference_count, ever_referenced, expires_at) "
    "VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), NULLIF($4, ''), $5, $6, $7) "
    "ON CONFLICT (id) DO UPDATE SET storage_id = excluded.storage_id, "
    "allocated_for_flow = excluded.allocated_for_flow, "
    "first_referenced_by_flow = excluded.first_referenced_by_flow, "
    "reference_count = excluded.reference_count, ever_referenced = excluded.ever_referenced, "
    "expires_at = excluded.expires_at";
constexpr std::string_view kDeleteObject = "DELETE FROM objects WHERE id = $1";
// Garbage rows removed and the bytes of those in a storage backend queued for deletion, in one
// statement; rows another transaction holds are skipped. Parameters: now (unix seconds), row
// limit. ever_referenced is 0/1 (as in SQLite).
constexpr std::string_view kTakeGarbageObjects =
    "WITH gone AS (DELETE FROM objects WHERE id IN ("
    "SELECT id FROM objects "
    "WHERE (ever_referenced = 0 AND expires_at > 0 AND expires_at < $1) "
    "OR (ever_referenced = 1 AND reference_count = 0) "
    "ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, storage_id, allocated_for_flow, first_referenced_by_flow, reference_count, "
    "ever_referenced, expires_at), "
    "queued AS (INSERT INTO media_deletions (object_id, storage_id) "
    "SELECT id, storage_id FROM gone WHERE COALESCE(storage_id, '') <> '' "
    "ON CONFLICT (object_id) DO NOTHING) "
    "SELECT * FROM gone";
// Free or ended leases only (not the caller's own). Parameters: owner, now, lease end, limit.
constexpr std::string_view kClaimMediaDeletions =
    "WITH picked AS (SELECT object_id FROM media_deletions WHERE lease_until_ms <= $2 "
    "ORDER BY object_id LIMIT $4 FOR UPDATE SKIP LOCKED) "
    "UPDATE media_deletions m SET lease_owner = $1, lease_until_ms = $3 "
    "FROM picked WHERE m.object_id = picked.object_id "
    "RETURNING m.object_id, m.storage_id";
constexpr std::string_view kDeleteMediaDeletion =
    "DELETE FROM media_deletions WHERE object_id = $1";
constexpr std::string_view kSelectObjectFlows =
    "SELECT flow_id FROM object_refs WHERE object_id = $1 AND flow_id > $2 "
    "ORDER BY flow_id LIMIT $3";
constexpr std::string_view kSelectExpiredObjects =
    "SELECT id, storage_id, allocated_for_flow, first_referenced_by_flow, reference_count, "
    "ever_referenced, expires_at FROM objects "
    "WHERE ever_referenced = 0 AND expires_at > 0 AND expires_at < $1 "
    "ORDER BY expires_at LIMIT $2";
constexpr std::string_view kSelectUnreferencedObjects =
    "SELECT id, storage_id, allocated_for_flow, first_referenced_by_flow, reference_count, "
    "ever_referenced, expires_at FROM objects "
    "WHERE ever_referenced = 1 AND reference_count = 0 ORDER BY id LIMIT $1";

// ---- Deletion requests ----

constexpr std::string_view kSelectDeletionRequest =
    "SELECT id, flow_id, doc FROM deletion_requests WHERE id = $1";
constexpr std::string_view kSelectDeletionRequests =
    "SELECT id, flow_id, doc FROM deletion_requests ORDER BY created, id";
// Pending requests whose lease is free or ended get the lease. RETURNING rows come in no
// defined order: `created` is returned for sorting. Parameters: owner, now, lease end, limit.
constexpr std::string_view kClaimDeletionRequests =
    "WITH picked AS (SELECT id FROM deletion_requests "
    "WHERE status IN ('created', 'started') AND lease_until_ms <= $2 "
    "ORDER BY created, id LIMIT $4 FOR UPDATE SKIP LOCKED) "
    "UPDATE deletion_requests d SET lease_owner = $1, lease_until_ms = $3 "
    "FROM picked WHERE d.id = picked.id "
    "RETURNING d.id, d.flow_id, d.doc, d.created";
// Progress of a claimed request, only while the owner holds it. Parameters: id, owner, status,
// expiry, doc, lease end (0 releases).
constexpr std::string_view kUpdateHeldDeletionRequest =
    "UPDATE deletion_requests SET status = $3, expiry = $4, doc = $5, lease_until_ms = $6 "
    "WHERE id = $1 AND lease_owner = $2";
constexpr std::string_view kUpsertDeletionRequest =
    "INSERT INTO deletion_requests (id, flow_id, status, created, expiry, doc) "
    "VALUES ($1, $2, $3, $4, $5, $6) "
    "ON CONFLICT (id) DO UPDATE SET flow_id = excluded.flow_id, status = excluded.status, "
    "created = excluded.created, expiry = excluded.expiry, doc = excluded.doc";
constexpr std::string_view kPurgeDeletionRequests =
    "DELETE FROM deletion_requests WHERE expiry < $1";

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
    NamedSql{"kListSegmentsFromEdge", kListSegmentsFromEdge},
    NamedSql{"kListSegmentsFromEdgeReverse", kListSegmentsFromEdgeReverse},
    NamedSql{"kListObjectSegmentsFromEdge", kListObjectSegmentsFromEdge},
    NamedSql{"kListObjectSegmentsFromEdgeReverse", kListObjectSegmentsFromEdgeReverse},
    NamedSql{"kInsertSegment", kInsertSegment},
    NamedSql{"kSelectObjectExists", kSelectObjectExists},
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
    NamedSql{"kUpdateHeldDeletionRequest", kUpdateHeldDeletionRequest},
    NamedSql{"kTakeGarbageObjects", kTakeGarbageObjects},
    NamedSql{"kClaimMediaDeletions", kClaimMediaDeletions},
    NamedSql{"kUpsertDeletionRequest", kUpsertDeletionRequest},
    NamedSql{"kPurgeDeletionRequests", kPurgeDeletionRequests},
    NamedSql{"kUpdateSegmentsUpdated", kUpdateSegmentsUpdated},
};

// ---- Collections ----

constexpr std::string_view kSelectFlowCollectedBy =
    "SELECT DISTINCT collector_id FROM flow_collections WHERE member_id = $1 "
    "ORDER BY collector_id";
constexpr std::string_view kSelectSourceCollection =
    "SELECT DISTINCT member.source_id, c.role FROM flows collector "
    "JOIN flow_collections c ON c.collector_id = collector.id "
    "JOIN flows member ON member.id = c.member_id "
    "WHERE collector.source_id = $1 ORDER BY member.source_id, c.role";
constexpr std::string_view kSelectSourceCollectedBy =
    "SELECT DISTINCT collector.source_id FROM flows member "
    "JOIN flow_collections c ON c.member_id = member.id "
    "JOIN flows collector ON collector.id = c.collector_id "
    "WHERE member.source_id = $1 ORDER BY collector.source_id";
constexpr std::string_view kCountFlowsOfSource = "SELECT count(*) FROM flows WHERE source_id = $1";

// ---- Settings ----

constexpr std::string_view kSelectSetting = "SELECT value FROM settings WHERE key = $1";
constexpr std::string_view kUpsertSetting =
    "INSERT INTO settings (key, value) VALUES ($1, $2) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value";

// ---- Webhooks ----

constexpr std::string_view kWebhooksRegistered = "SELECT EXISTS (SELECT 1 FROM webhooks)";
constexpr std::string_view kSelectWebhooks =
    "SELECT id, url, api_key_name, doc, base_url, cursor, attempts, next_attempt_ms, last_error "
    "FROM webhooks ORDER BY id";
constexpr std::string_view kUpsertWebhook =
    "INSERT INTO webhooks (url, api_key_name, doc, base_url, cursor) "
    "VALUES ($1, $2, $3, $4, (SELECT COALESCE(max(seq), 0) FROM events)) "
    "ON CONFLICT (url, api_key_name) DO UPDATE SET doc = excluded.doc, "
    "base_url = excluded.base_url RETURNING id";
constexpr std::string_view kDeleteWebhook =
    "DELETE FROM webhooks WHERE url = $1 AND api_key_name = $2 RETURNING id";
// Free due registrations with events after their cursor are taken; the owner's own leases are
// renewed once less than half is left ($5: the renewal threshold). Rows needing neither are not
// written. Parameters: owner, now, lease end, row limit, renewal threshold.
constexpr std::string_view kClaimWebhooks =
    "UPDATE webhooks SET lease_owner = $1, lease_until_ms = $3 "
    "WHERE (lease_owner = $1 AND lease_until_ms > $2 AND lease_until_ms < $5) "
    "OR id IN (SELECT w.id FROM webhooks w "
    "WHERE w.lease_until_ms <= $2 AND w.next_attempt_ms <= $2 "
    "AND EXISTS (SELECT 1 FROM events e WHERE e.seq > w.cursor) "
    "ORDER BY w.id LIMIT $4 FOR UPDATE SKIP LOCKED)";
// Parameters: owner, now.
constexpr std::string_view kSelectHeldWebhooks =
    "SELECT id, url, api_key_name, doc, base_url, cursor, attempts, next_attempt_ms, last_error "
    "FROM webhooks WHERE lease_owner = $1 AND lease_until_ms > $2 ORDER BY id";
// Parameters: id, owner.
constexpr std::string_view kReleaseWebhook =
    "UPDATE webhooks SET lease_owner = '', lease_until_ms = 0 WHERE id = $1 AND lease_owner = $2";
// Only while the owner holds the registration. Parameters: id, owner, cursor, attempts, next
// attempt, last error.
constexpr std::string_view kUpdateWebhookProgress =
    "UPDATE webhooks SET cursor = $3, attempts = $4, next_attempt_ms = $5, last_error = $6 "
    "WHERE id = $1 AND lease_owner = $2";
constexpr std::string_view kInsertEvent =
    "INSERT INTO events (type, timestamp, subject, payload) VALUES ($1, $2, $3, $4) "
    "RETURNING seq";
constexpr std::string_view kSelectEventsAfter =
    "SELECT seq, type, timestamp, subject, payload FROM events WHERE seq > $1 "
    "ORDER BY seq LIMIT $2";
constexpr std::string_view kPurgeEvents =
    "DELETE FROM events WHERE seq <= COALESCE((SELECT min(cursor) FROM webhooks), "
    "(SELECT max(seq) FROM events))";
constexpr std::string_view kInsertWebhookFailure =
    "INSERT INTO webhook_failures (webhook_id, url, event_seq, event_type, attempts, last_error, "
    "failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
constexpr std::string_view kTrimWebhookFailures =
    "DELETE FROM webhook_failures WHERE id <= (SELECT max(id) FROM webhook_failures) - 1000";
constexpr std::string_view kSelectWebhookFailures =
    "SELECT webhook_id, url, event_seq, event_type, attempts, last_error, failed_at "
    "FROM webhook_failures ORDER BY id DESC LIMIT $1";

// ---- Rows ----

// A flow's segments_updated column, when set, replaces whatever the document holds.
void merge_segments_updated(Document& flow, const Result& result, int row, int column) {
  if (!result.is_null(row, column)) flow["segments_updated"] = result.text(row, column);
}

ObjectRecord read_object(const Result& r, int row) {
  ObjectRecord object;
  object.id = r.text(row, 0);
  object.storage_id = r.text(row, 1);
  object.allocated_for_flow = r.text(row, 2);
  object.first_referenced_by_flow = r.text(row, 3);
  object.reference_count = r.int64(row, 4);
  object.ever_referenced = r.int64(row, 5) != 0;
  object.expires_at = r.int64(row, 6);
  return object;
}

// Columns: id, url, api_key_name, doc, base_url, cursor, attempts, next_attempt_ms, last_error.
WebhookRecord read_webhook(const Result& r, int row) {
  WebhookRecord w;
  w.id = r.int64(row, 0);
  w.url = r.text(row, 1);
  w.api_key_name = r.text(row, 2);
  w.doc = parse_document(r.text(row, 3), "webhook", w.url);
  w.base_url = r.text(row, 4);
  w.cursor = r.int64(row, 5);
  w.attempts = r.int64(row, 6);
  w.next_attempt_ms = r.int64(row, 7);
  w.last_error = r.text(row, 8);
  return w;
}

// A claim's owner, now, lease end and row limit as parameters $1 to $4.
Params claim_params(const LeaseClaim& claim) {
  if (claim.owner.empty()) throw std::invalid_argument("lease claim without an owner");
  return Params(claim.owner, claim.now_ms, claim.until_ms, claim.limit);
}

DeletionRequestRecord read_deletion_request(const Result& r, int row) {
  DeletionRequestRecord request;
  request.id = r.text(row, 0);
  request.flow_id = r.text(row, 1);
  request.doc = parse_document(r.text(row, 2), "deletion request", request.id);
  return request;
}

SegmentRecord read_segment(const Result& r, int row, const std::string& flow_id) {
  SegmentRecord segment;
  segment.flow_id = flow_id;
  segment.start_ns = r.int64(row, 0);
  segment.end_ns = r.int64(row, 1);
  segment.object_id = r.text(row, 2);
  segment.doc = parse_document(r.text(row, 3), "segment of flow", flow_id);
  return segment;
}

// Listing SQL assembled from the fixed fragments above; values only travel as parameters, so the
// SQL text depends on which filters are present, never on their values.
class Listing {
 public:
  using Value = std::variant<int64_t, std::string>;

  explicit Listing(std::string_view select) : sql_(select) {}

  template <class... V>
  void where(std::string_view fragment, V... values) {
    append(fragment, {Value(std::move(values))...});
  }

  model::Page<Document> fetch(Connection& db, std::string_view name, std::string_view kind,
                              const model::PageRequest& page, bool segments_updated = false) {
    const int64_t rows = rows_for_page(page.limit, "list");
    if (!page.after.empty()) where(listing::kListAfterId, page.after);
    where(listing::kListOrderByIdLimit, rows);
    const Result result = db.query(name, sql_, params_);
    model::Page<Document> out;
    out.limit = page.limit;
    for (int row = 0; row < result.rows(); ++row) {
      if (static_cast<int64_t>(out.items.size()) == page.limit) {
        out.next = result.text(row - 1, 0);
        break;
      }
      out.items.push_back(parse_document(result.text(row, 1), kind, result.text(row, 0)));
      if (segments_updated) merge_segments_updated(out.items.back(), result, row, 2);
    }
    return out;
  }

 private:
  void append(std::string_view fragment, std::initializer_list<Value> values) {
    auto value = values.begin();
    for (char c : fragment) {
      if (c != '?') {
        sql_.push_back(c);
        continue;
      }
      sql_.append("$").append(std::to_string(++count_));
      std::visit([&](const auto& v) { params_.add(v); }, *value++);
    }
  }

  std::string sql_;
  Params params_;
  int count_ = 0;
};

// Reads and writes on one connection inside the transaction its caller opened. Handed to one
// read() or write() callback; not thread-safe.
class Transaction final : public WriteTransaction {
 public:
  explicit Transaction(Connection& db) : db_(db) {}

  // The connection the transaction runs on (for the store's own statements).
  Connection& connection() { return db_; }

  std::optional<Document> get_source(const std::string& id) override {
    const Result r = db_.query("kSelectSourceById", kSelectSourceById, Params(id));
    if (r.rows() == 0) return std::nullopt;
    return parse_document(r.text(0, 0), "source", id);
  }

  std::optional<Document> get_flow(const std::string& id) override {
    const Result r = db_.query("kSelectFlowById", kSelectFlowById, Params(id));
    if (r.rows() == 0) return std::nullopt;
    Document flow = parse_document(r.text(0, 0), "flow", id);
    merge_segments_updated(flow, r, 0, 1);
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
    const Result r =
        db_.query("kSelectSourceCollection", kSelectSourceCollection, Params(source_id));
    std::vector<CollectionMember> members;
    members.reserve(r.rows());
    for (int row = 0; row < r.rows(); ++row) {
      members.push_back(CollectionMember{r.text(row, 0), r.text(row, 1)});
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
    const Result at =
        db_.query("kSegmentAtOrBefore", kSegmentAtOrBefore, Params(flow_id, range.start()));
    if (at.rows() > 0 && at.int64(0, 0) > range.start()) first = at.text(0, 1);
    if (first.empty()) {
      const Result in = db_.query("kFirstSegmentStartingIn", kFirstSegmentStartingIn,
                                  Params(flow_id, range.start(), range.end()));
      if (in.rows() == 0) return std::nullopt;
      first = in.text(0, 1);
    }
    const Result last = db_.query("kLastSegmentStartingBefore", kLastSegmentStartingBefore,
                                  Params(flow_id, range.end()));
    if (last.rows() == 0 || last.int64(0, 0) <= range.start()) return std::nullopt;
    return std::make_pair(first, last.text(0, 1));
  }

  int64_t count_flows_of_source(const std::string& source_id) override {
    const Result r = db_.query("kCountFlowsOfSource", kCountFlowsOfSource, Params(source_id));
    return r.rows() > 0 ? r.int64(0, 0) : 0;
  }

  std::optional<std::string> get_setting(const std::string& key) override {
    const Result r = db_.query("kSelectSetting", kSelectSetting, Params(key));
    if (r.rows() == 0) return std::nullopt;
    return r.text(0, 0);
  }

  // ---- Segments ----

  model::Page<SegmentRecord> list_segments(const SegmentQuery& query) override {
    const int64_t rows = rows_for_page(query.page.limit, "list_segments");
    model::Page<SegmentRecord> result;
    result.limit = query.page.limit;
    // One statement whatever the query (read_segment_page relies on it): the edge look-up, when
    // needed, happens inside it.
    const SegmentPageBounds bounds = segment_page_bounds(query);
    if (bounds.empty) return result;
    const bool by_object = query.object_id.has_value();
    const bool edge = bounds.edge_point.has_value();
    if (!edge && bounds.lowest >= bounds.highest) return result;
    NamedSql sql;
    if (edge) {
      sql = query.reverse_order
                ? (by_object ? NamedSql{"kListObjectSegmentsFromEdgeReverse",
                                        kListObjectSegmentsFromEdgeReverse}
                             : NamedSql{"kListSegmentsFromEdgeReverse", kListSegmentsFromEdgeReverse})
                : (by_object ? NamedSql{"kListObjectSegmentsFromEdge", kListObjectSegmentsFromEdge}
                             : NamedSql{"kListSegmentsFromEdge", kListSegmentsFromEdge});
    } else {
      sql = query.reverse_order
                ? (by_object ? NamedSql{"kListObjectSegmentsReverse", kListObjectSegmentsReverse}
                             : NamedSql{"kListSegmentsReverse", kListSegmentsReverse})
                : (by_object ? NamedSql{"kListObjectSegments", kListObjectSegments}
                             : NamedSql{"kListSegments", kListSegments});
    }
    Params params(query.flow_id, bounds.lowest, bounds.highest, rows);
    if (edge) params.add(*bounds.edge_point).add(bounds.floor);
    if (by_object) params.add(*query.object_id);
    const Result r = db_.query(sql.name, sql.sql, params);
    for (int row = 0; row < r.rows(); ++row) {
      if (static_cast<int64_t>(result.items.size()) == query.page.limit) {
        result.next = std::to_string(result.items.back().start_ns);
        break;
      }
      SegmentRecord segment;
      segment.flow_id = query.flow_id;
      segment.start_ns = r.int64(row, 0);
      segment.end_ns = r.int64(row, 1);
      segment.object_id = r.text(row, 2);
      segment.doc_json = r.text(row, 3);
      segment.storage_id = r.text(row, 4);
      result.items.push_back(std::move(segment));
    }
    return result;
  }

  bool segment_overlaps(const std::string& flow_id, int64_t start_ns, int64_t end_ns) override {
    if (start_ns >= end_ns) return false;
    // The last segment starting before the end is the only candidate.
    const auto candidate = segment_starting_before(flow_id, end_ns);
    return candidate && candidate->second > start_ns;
  }

  bool has_segments(const std::string& flow_id) override {
    return db_.query("kFlowHasAnySegment", kFlowHasAnySegment, Params(flow_id)).rows() > 0;
  }

  // ---- Objects ----

  std::optional<ObjectRecord> get_object(const std::string& id) override {
    const Result r = db_.query("kSelectObject", kSelectObject, Params(id));
    if (r.rows() == 0) return std::nullopt;
    return read_object(r, 0);
  }

  model::Page<std::string> object_flows(const std::string& object_id,
                                        const model::PageRequest& page) override {
    const int64_t rows = rows_for_page(page.limit, "object_flows");
    const Result r =
        db_.query("kSelectObjectFlows", kSelectObjectFlows, Params(object_id, page.after, rows));
    model::Page<std::string> result;
    result.limit = page.limit;
    for (int row = 0; row < r.rows(); ++row) {
      if (static_cast<int64_t>(result.items.size()) == page.limit) {
        result.next = result.items.back();
        break;
      }
      result.items.push_back(r.text(row, 0));
    }
    return result;
  }

  std::vector<ObjectRecord> garbage_objects(int64_t now, int64_t limit) override {
    std::vector<ObjectRecord> objects;
    if (limit < 1) return objects;
    const Result expired =
        db_.query("kSelectExpiredObjects", kSelectExpiredObjects, Params(now, limit));
    for (int row = 0; row < expired.rows(); ++row) objects.push_back(read_object(expired, row));
    const int64_t left = limit - static_cast<int64_t>(objects.size());
    if (left > 0) {
      const Result unreferenced =
          db_.query("kSelectUnreferencedObjects", kSelectUnreferencedObjects, Params(left));
      for (int row = 0; row < unreferenced.rows(); ++row) {
        objects.push_back(read_object(unreferenced, row));
      }
    }
    return objects;
  }

  // ---- Deletion requests ----

  std::optional<DeletionRequestRecord> get_deletion_request(const std::string& id) override {
    const Result r = db_.query("kSelectDeletionRequest", kSelectDeletionRequest, Params(id));
    if (r.rows() == 0) return std::nullopt;
    return read_deletion_request(r, 0);
  }

  std::vector<DeletionRequestRecord> list_deletion_requests() override {
    return select_deletion_requests("kSelectDeletionRequests", kSelectDeletionRequests);
  }

  // ---- Webhooks ----

  bool webhooks_registered() override {
    const Result r = db_.query("kWebhooksRegistered", kWebhooksRegistered);
    return r.rows() > 0 && r.int64(0, 0) != 0;
  }

  std::vector<WebhookRecord> list_webhooks() override {
    return select_webhooks(db_.query("kSelectWebhooks", kSelectWebhooks));
  }

  std::vector<EventRecord> events_after(int64_t after, int64_t limit) override {
    std::vector<EventRecord> events;
    if (limit < 1) return events;
    const Result r = db_.query("kSelectEventsAfter", kSelectEventsAfter, Params(after, limit));
    for (int row = 0; row < r.rows(); ++row) {
      EventRecord e;
      e.seq = r.int64(row, 0);
      e.type = r.text(row, 1);
      e.timestamp = r.text(row, 2);
      const std::string seq = std::to_string(e.seq);
      e.subject = parse_document(r.text(row, 3), "event subject", seq);
      e.payload = parse_document(r.text(row, 4), "event payload", seq);
      events.push_back(std::move(e));
    }
    return events;
  }

  std::vector<WebhookFailureRecord> list_webhook_failures(int64_t limit) override {
    std::vector<WebhookFailureRecord> failures;
    if (limit < 1) return failures;
    const Result r = db_.query("kSelectWebhookFailures", kSelectWebhookFailures, Params(limit));
    for (int row = 0; row < r.rows(); ++row) {
      failures.push_back(WebhookFailureRecord{r.int64(row, 0), r.text(row, 1), r.int64(row, 2),
                                              r.text(row, 3), r.int64(row, 4), r.text(row, 5),
                                              r.text(row, 6)});
    }
    return failures;
  }

  int64_t add_event(const EventRecord& event) override {
    const Result r =
        db_.query("kInsertEvent", kInsertEvent,
                  Params(event.type, event.timestamp, boost::json::serialize(event.subject),
                         boost::json::serialize(event.payload)));
    if (r.rows() == 0) throw std::runtime_error("add_event: no seq returned");
    ++events_added_;
    return r.int64(0, 0);
  }

  int64_t put_webhook(const WebhookRecord& webhook) override {
    if (webhook.url.empty()) throw std::invalid_argument("put_webhook: empty url");
    const Result r = db_.query("kUpsertWebhook", kUpsertWebhook,
                               Params(webhook.url, webhook.api_key_name,
                                      boost::json::serialize(webhook.doc), webhook.base_url));
    if (r.rows() == 0) throw std::runtime_error("put_webhook: no id returned");
    return r.int64(0, 0);
  }

  bool delete_webhook(const std::string& url, const std::string& api_key_name) override {
    return db_.query("kDeleteWebhook", kDeleteWebhook, Params(url, api_key_name)).rows() > 0;
  }

  std::vector<WebhookRecord> claim_webhooks(const LeaseClaim& claim) override {
    Params params = claim_params(claim);
    params.add(claim.now_ms + (claim.until_ms - claim.now_ms) / 2);
    db_.query("kClaimWebhooks", kClaimWebhooks, params);
    return select_webhooks(
        db_.query("kSelectHeldWebhooks", kSelectHeldWebhooks, Params(claim.owner, claim.now_ms)));
  }

  bool release_webhook(int64_t id, const std::string& owner) override {
    return db_.query("kReleaseWebhook", kReleaseWebhook, Params(id, owner)).affected() > 0;
  }

  bool set_webhook_progress(int64_t id, const std::string& owner, int64_t cursor, int64_t attempts,
                            int64_t next_attempt_ms, const std::string& last_error) override {
    return db_.query("kUpdateWebhookProgress", kUpdateWebhookProgress,
                     Params(id, owner, cursor, attempts, next_attempt_ms, last_error))
               .affected() > 0;
  }

  void add_webhook_failure(const WebhookFailureRecord& failure) override {
    db_.query("kInsertWebhookFailure", kInsertWebhookFailure,
              Params(failure.webhook_id, failure.url, failure.event_seq, failure.event_type,
                     failure.attempts, failure.last_error, failure.failed_at));
    db_.query("kTrimWebhookFailures", kTrimWebhookFailures);
  }

  int64_t purge_events() override { return db_.query("kPurgeEvents", kPurgeEvents).affected(); }

  // Events added in this transaction (for the store's event listener).
  int64_t events_added() const { return events_added_; }
  // What this transaction changed that other instances may hold in memory.
  const ChangeSet& changes() const { return changes_; }
  // Segments inserted minus segments deleted in this transaction (for stored_counts).
  int64_t segments_delta() const { return segments_delta_; }

  void put_source(const Document& source) override {
    const std::string_view id = required_string(source, "id", "put_source");
    const std::string_view format = required_string(source, "format", "put_source");
    db_.query("kUpsertSource", kUpsertSource,
              Params(id, format, optional_string(source, "label"), boost::json::serialize(source)));
    db_.query("kDeleteSourceTags", kDeleteSourceTags, Params(id));
    insert_tags("kInsertSourceTag", kInsertSourceTag, id, source);
    changes_.add({Change::Kind::kSource, std::string(id)});
  }

  void delete_source(const std::string& id) override {
    db_.query("kDeleteSourceTags", kDeleteSourceTags, Params(id));
    db_.query("kDeleteSource", kDeleteSource, Params(id));
    changes_.add({Change::Kind::kSource, id});
  }

  void put_flow(const Document& flow) override {
    const std::string_view id = required_string(flow, "id", "put_flow");
    const std::string_view source_id = required_string(flow, "source_id", "put_flow");
    const std::string_view format = required_string(flow, "format", "put_flow");
    const boost::json::object* essence = video_essence(flow, format);
    // Collections and sources make one flow's document part of others' computed properties.
    changes_.add({Change::Kind::kDocuments, ""});
    db_.query("kUpsertFlow", kUpsertFlow,
              Params(id, source_id, format, optional_string(flow, "codec"),
                     optional_string(flow, "label"), optional_integer(essence, "frame_width"),
                     optional_integer(essence, "frame_height"), boost::json::serialize(flow)));
    db_.query("kDeleteFlowTags", kDeleteFlowTags, Params(id));
    insert_tags("kInsertFlowTag", kInsertFlowTag, id, flow);
    db_.query("kDeleteFlowCollection", kDeleteFlowCollection, Params(id));
    const boost::json::value* collection = flow.if_contains("flow_collection");
    if (collection == nullptr || !collection->is_array()) return;
    int64_t position = 0;
    for (const boost::json::value& item : collection->get_array()) {
      const boost::json::object* entry = item.if_object();
      if (entry == nullptr) continue;
      const std::optional<std::string_view> member = optional_string(*entry, "id");
      if (!member) continue;
      db_.query("kInsertFlowCollectionItem", kInsertFlowCollectionItem,
                Params(id, position++, *member, optional_string(*entry, "role").value_or("")));
    }
  }

  void delete_flow(const std::string& id) override {
    db_.query("kDeleteFlowTags", kDeleteFlowTags, Params(id));
    db_.query("kDeleteFlowCollection", kDeleteFlowCollection, Params(id));
    db_.query("kDeleteFlow", kDeleteFlow, Params(id));
    changes_.add({Change::Kind::kFlowDeleted, id});
  }

  void put_setting(const std::string& key, const std::string& value) override {
    db_.query("kUpsertSetting", kUpsertSetting, Params(key, value));
  }

  void set_segments_updated(const std::string& flow_id, const std::string& when) override {
    db_.query("kUpdateSegmentsUpdated", kUpdateSegmentsUpdated, Params(flow_id, when));
    changes_.add({Change::Kind::kSegments, flow_id});
  }

  void insert_segment(const SegmentRecord& segment) override {
    if (segment.start_ns >= segment.end_ns) {
      throw std::invalid_argument("insert_segment: empty timerange for a segment of flow " +
                                  segment.flow_id);
    }
    // Nothing is written unless the object exists and the position is free, so a failure leaves
    // the transaction usable.
    const Result inserted =
        db_.query("kInsertSegment", kInsertSegment,
                  Params(segment.flow_id, segment.start_ns, segment.end_ns, segment.object_id,
                         boost::json::serialize(segment.doc)));
    if (inserted.int64(0, 0) == 0) {
      if (db_.query("kSelectObjectExists", kSelectObjectExists, Params(segment.object_id)).rows() ==
          0) {
        throw std::logic_error("insert_segment: no object row for object " + segment.object_id);
      }
      throw std::logic_error("insert_segment: flow " + segment.flow_id +
                             " already has a segment starting at " +
                             std::to_string(segment.start_ns));
    }
    db_.note_rows_changed(inserted.int64(0, 0));
    changes_.add({Change::Kind::kSegments, segment.flow_id});
    ++segments_delta_;
  }

  std::vector<SegmentRecord> delete_segments(const std::string& flow_id,
                                             const time::TimeRange& range,
                                             const std::optional<std::string>& object_id,
                                             int64_t limit) override {
    std::vector<SegmentRecord> deleted;
    if (range.is_empty() || limit < 1) return deleted;
    // Covered segments start at or after range.start and end by range.end; walking in start
    // (= end) order, the first that ends after range.end ends the walk.
    Params params(flow_id, range.start(), range.end(), limit);
    if (object_id) params.add(*object_id);
    const Result r = object_id
                         ? db_.query("kSelectObjectSegmentsFrom", kSelectObjectSegmentsFrom, params)
                         : db_.query("kSelectSegmentsFrom", kSelectSegmentsFrom, params);
    for (int row = 0; row < r.rows(); ++row) {
      if (r.int64(row, 1) > range.end()) break;
      deleted.push_back(read_segment(r, row, flow_id));
    }
    if (!deleted.empty()) changes_.add({Change::Kind::kSegments, flow_id});
    std::map<std::string, int64_t> released;  // object id -> references released
    for (const SegmentRecord& segment : deleted) {
      db_.query("kDeleteSegment", kDeleteSegment, Params(flow_id, segment.start_ns));
      ++released[segment.object_id];
    }
    for (const auto& [object, count] : released) {
      const Result refs =
          db_.query("kReleaseObjectRefs", kReleaseObjectRefs, Params(object, flow_id, count));
      if (refs.rows() > 0 && refs.int64(0, 0) <= 0) {
        db_.query("kDeleteObjectRefs", kDeleteObjectRefs, Params(object, flow_id));
      }
      db_.query("kReleaseObject", kReleaseObject, Params(object, count));
    }
    segments_delta_ -= static_cast<int64_t>(deleted.size());
    return deleted;
  }

  void put_object(const ObjectRecord& object) override {
    if (object.id.empty()) throw std::invalid_argument("put_object: empty object id");
    db_.query("kUpsertObject", kUpsertObject,
              Params(object.id, object.storage_id, object.allocated_for_flow,
                     object.first_referenced_by_flow, object.reference_count,
                     int64_t{object.ever_referenced ? 1 : 0}, object.expires_at));
  }

  void delete_object(const std::string& id) override {
    db_.query("kDeleteObject", kDeleteObject, Params(id));
  }

  std::vector<ObjectRecord> take_garbage_objects(int64_t now, int64_t limit) override {
    std::vector<ObjectRecord> taken;
    if (limit < 1) return taken;
    const Result r = db_.query("kTakeGarbageObjects", kTakeGarbageObjects, Params(now, limit));
    db_.note_rows_changed(r.rows());  // a SELECT whose CTEs write
    taken.reserve(r.rows());
    for (int row = 0; row < r.rows(); ++row) taken.push_back(read_object(r, row));
    return taken;
  }

  std::vector<MediaDeletionRecord> claim_media_deletions(const LeaseClaim& claim) override {
    std::vector<MediaDeletionRecord> claimed;
    if (claim.limit < 1) return claimed;
    const Result r = db_.query("kClaimMediaDeletions", kClaimMediaDeletions, claim_params(claim));
    claimed.reserve(r.rows());
    for (int row = 0; row < r.rows(); ++row) claimed.push_back({r.text(row, 0), r.text(row, 1)});
    return claimed;
  }

  void delete_media_deletion(const std::string& object_id) override {
    db_.query("kDeleteMediaDeletion", kDeleteMediaDeletion, Params(object_id));
  }

  void put_deletion_request(const DeletionRequestRecord& request) override {
    if (request.id.empty()) throw std::invalid_argument("put_deletion_request: empty id");
    const std::string_view status = required_string(request.doc, "status", "put_deletion_request");
    db_.query("kUpsertDeletionRequest", kUpsertDeletionRequest,
              Params(request.id, request.flow_id, status, optional_string(request.doc, "created"),
                     optional_string(request.doc, "expiry"), boost::json::serialize(request.doc)));
  }

  std::vector<DeletionRequestRecord> claim_deletion_requests(const LeaseClaim& claim) override {
    std::vector<DeletionRequestRecord> requests;
    if (claim.limit < 1) return requests;
    const Result r =
        db_.query("kClaimDeletionRequests", kClaimDeletionRequests, claim_params(claim));
    // (created, request): RETURNING gives no order.
    std::vector<std::pair<std::string, DeletionRequestRecord>> claimed;
    claimed.reserve(r.rows());
    for (int row = 0; row < r.rows(); ++row) {
      claimed.emplace_back(r.text(row, 3), read_deletion_request(r, row));
    }
    return oldest_first(std::move(claimed));
  }

  bool update_deletion_request(const DeletionRequestRecord& request, const std::string& owner,
                               int64_t until_ms) override {
    const std::string_view status =
        required_string(request.doc, "status", "update_deletion_request");
    return db_.query("kUpdateHeldDeletionRequest", kUpdateHeldDeletionRequest,
                     Params(request.id, owner, status, optional_string(request.doc, "expiry"),
                            boost::json::serialize(request.doc), until_ms))
               .affected() > 0;
  }

  void purge_deletion_requests(const std::string& now_rfc3339) override {
    db_.query("kPurgeDeletionRequests", kPurgeDeletionRequests, Params(now_rfc3339));
  }

 private:
  std::optional<std::pair<int64_t, int64_t>> segment_starting_before(const std::string& flow_id,
                                                                     int64_t point) {
    const Result r =
        db_.query("kSegmentStartingBefore", kSegmentStartingBefore, Params(flow_id, point));
    if (r.rows() == 0) return std::nullopt;
    return std::make_pair(r.int64(0, 0), r.int64(0, 1));
  }

  std::vector<DeletionRequestRecord> select_deletion_requests(std::string_view name,
                                                              std::string_view sql) {
    const Result r = db_.query(name, sql);
    std::vector<DeletionRequestRecord> requests;
    requests.reserve(r.rows());
    for (int row = 0; row < r.rows(); ++row) requests.push_back(read_deletion_request(r, row));
    return requests;
  }

  static std::vector<WebhookRecord> select_webhooks(const Result& r) {
    std::vector<WebhookRecord> webhooks;
    webhooks.reserve(r.rows());
    for (int row = 0; row < r.rows(); ++row) webhooks.push_back(read_webhook(r, row));
    return webhooks;
  }

  std::vector<std::string> select_ids(std::string_view name, std::string_view sql,
                                      const std::string& key) {
    const Result r = db_.query(name, sql, Params(key));
    std::vector<std::string> ids;
    ids.reserve(r.rows());
    for (int row = 0; row < r.rows(); ++row) ids.push_back(r.text(row, 0));
    return ids;
  }

  // Tags are an object of string values; anything else in it is not indexed.
  void insert_tags(std::string_view name, std::string_view sql, std::string_view owner_id,
                   const Document& doc) {
    const boost::json::value* tags = doc.if_contains("tags");
    if (tags == nullptr || !tags->is_object()) return;
    for (const auto& tag : tags->get_object()) {
      if (!tag.value().is_string()) continue;
      db_.query(name, sql,
                Params(owner_id, std::string_view(tag.key()),
                       std::string_view(tag.value().get_string())));
    }
  }

  Connection& db_;
  int64_t events_added_ = 0;
  ChangeSet changes_;
  int64_t segments_delta_ = 0;
};

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Leases a connection of `endpoint` into `lease` and runs `begin` on it. A pooled connection
// whose server restarted since it last served fails on its first statement, before anything ran:
// then every idle connection of the endpoint (they are as dead) is dropped and a new connection
// tries once more, so a database restart costs no failed request.
void begin_transaction(Endpoint& endpoint, std::optional<Lease>& lease, std::string_view name,
                       std::string_view begin) {
  for (int attempt = 0;; ++attempt) {
    lease.emplace(endpoint);
    const bool reused = !(*lease)->fresh();
    try {
      (*lease)->query(name, begin);
      return;
    } catch (const EndpointFailure&) {
      lease.reset();
      if (!reused || attempt > 0) throw;
      endpoint.drop_idle();
    }
  }
}

// This store's name in its change notices: random, so that no other process (on any host) has
// the same.
std::string new_origin() {
  std::random_device random;
  std::string origin;
  for (int i = 0; i < 4; ++i) origin += fmt::format("{:08x}", random());
  return origin;
}

// The thread inside write(), to refuse re-entry (which would wait for its own advisory lock).
thread_local bool t_writing = false;

}  // namespace

std::span<const NamedSql> timeline_statements() { return kTimelineStatements; }

std::unique_ptr<PostgresStore> PostgresStore::open(const PostgresOptions& options) {
  if (options.primary.empty()) throw std::invalid_argument("PostgresStore: no primary URL");
  auto store = std::unique_ptr<PostgresStore>(new PostgresStore(options));
  {
    Lease db(*store->primary_);
    const int applied = migrate(*db);
    if (applied > 0) {
      spdlog::info("PostgreSQL {}: applied {} schema migration(s)", store->primary_->label(),
                   applied);
    }
  }
  store->health_->start();
  return store;
}

PostgresStore::PostgresStore(const PostgresOptions& options)
    : options_(options),
      origin_(new_origin()),
      primary_(std::make_unique<Endpoint>(options.primary)) {
  std::vector<Endpoint*> replicas;
  for (const std::string& url : options.replicas) {
    replicas_.push_back(std::make_unique<Endpoint>(url));
    replicas.push_back(replicas_.back().get());
  }
  health_ = std::make_unique<HealthCheck>(*primary_, std::move(replicas), options.health_interval);
}

PostgresStore::~PostgresStore() {
  feed_.reset();
  health_->stop();
}

bool PostgresStore::pinned_to_primary() {
  const std::string& key = ReadAffinity::current();
  // Background jobs deliver, delete and collect what they read: never from a stale view.
  if (key.empty()) return true;
  if (options_.read_primary_after_write_ms <= 0) return false;
  std::lock_guard lock(pins_mutex_);
  const auto found = pinned_until_ms_.find(key);
  return found != pinned_until_ms_.end() && steady_ms() < found->second;
}

void PostgresStore::pin() {
  const int64_t now = steady_ms();
  std::lock_guard lock(pins_mutex_);
  // Expired windows are dropped now and then, so the map holds about the recent writers.
  if (pinned_until_ms_.size() >= kMaxPins) {
    std::erase_if(pinned_until_ms_, [now](const auto& pin) { return pin.second <= now; });
  }
  const std::string& key = ReadAffinity::current();
  if (!key.empty()) pinned_until_ms_[key] = now + options_.read_primary_after_write_ms;
}

void PostgresStore::read_on(Endpoint& endpoint, const std::function<void(Reader&)>& fn,
                            bool transaction) {
  if (transaction) {
    std::optional<Lease> db;
    begin_transaction(endpoint, db, "kBeginRead", kBeginRead);
    Transaction t(**db);
    fn(t);
    (*db)->query("kCommit", kCommit);
    return;
  }
  // As begin_transaction: a pooled connection that turns out dead is retried once on a new one
  // (the function runs one read statement, so running it again is harmless).
  for (int attempt = 0;; ++attempt) {
    std::optional<Lease> db;
    db.emplace(endpoint);
    const bool reused = !(*db)->fresh();
    try {
      Transaction t(**db);
      fn(t);
      return;
    } catch (const EndpointFailure&) {
      db.reset();
      if (!reused || attempt > 0) throw;
      endpoint.drop_idle();
    }
  }
}

void PostgresStore::read(const std::function<void(Reader&)>& fn) { read_routed(fn, true); }

model::Page<SegmentRecord> PostgresStore::read_segment_page(const SegmentQuery& query) {
  model::Page<SegmentRecord> page;
  read_routed([&](Reader& r) { page = r.list_segments(query); }, false);
  return page;
}

void PostgresStore::read_routed(const std::function<void(Reader&)>& fn, bool transaction) {
  std::vector<int> order{kPrimary};
  if (!replicas_.empty()) {
    std::vector<ReplicaState> states;
    for (const auto& replica : replicas_) {
      states.push_back(ReplicaState{replica->up(), replica->in_recovery(), replica->promoted(),
                                    replica->lag_ms()});
    }
    order = read_order(primary_->up(), states, options_.replica_max_lag_ms, pinned_to_primary(),
                       rotation_.fetch_add(1));
  }
  // The first endpoint, and once more the next one when it fails.
  const size_t tries = std::min<size_t>(order.size(), 2);
  for (size_t i = 0; i < tries; ++i) {
    Endpoint& endpoint = order[i] == kPrimary ? *primary_ : *replicas_[order[i]];
    try {
      read_on(endpoint, fn, transaction);
      endpoint.mark_up();
      return;
    } catch (const EndpointFailure& e) {
      endpoint.mark_down();
      if (i + 1 == tries) throw;
      spdlog::warn("read on {} failed ({}); retrying on the next endpoint", endpoint.label(),
                   e.what());
    }
  }
}

void PostgresStore::write(const std::function<void(WriteTransaction&)>& fn) {
  if (t_writing) {
    throw std::logic_error("PostgresStore::write() called from inside write() on the same thread");
  }
  t_writing = true;
  struct Clear {
    ~Clear() { t_writing = false; }
  } clear;
  bool events_added = false;
  bool changed = false;
  try {
    std::optional<Lease> db;
    begin_transaction(*primary_, db, "kBeginWrite", kBeginWrite);
    (*db)->query("kWriteLock", kWriteLock, Params(kWriteLockKey));
    const int64_t changed_before = (*db)->rows_changed();
    Transaction transaction(**db);
    fn(transaction);
    if (transaction.segments_delta() != 0) {
      (*db)->query("kAddStoredSegments", kAddStoredSegments, Params(transaction.segments_delta()));
    }
    if (!transaction.changes().empty()) {
      (*db)->query("kNotifyChanges", kNotifyChanges,
                   Params(kChangeChannel, encode_notice(origin_, transaction.changes())));
    }
    (*db)->query("kCommit", kCommit);
    events_added = transaction.events_added() > 0;
    changed = (*db)->rows_changed() > changed_before;
    primary_->mark_up();  // it evidently answers again, whatever the last health check saw
  } catch (const EndpointFailure&) {
    primary_->mark_down();  // reads leave it until the health check sees it again
    throw;
  }
  if (!replicas_.empty() && options_.read_primary_after_write_ms > 0 && changed) pin();
  if (events_added && event_listener_) event_listener_();
}

void PostgresStore::set_event_listener(std::function<void()> listener) {
  event_listener_ = std::move(listener);
}

void PostgresStore::set_change_listener(ChangeListener listener) {
  feed_.reset();  // the old one's thread ends before the new one starts
  if (listener) {
    feed_ = std::make_unique<ChangeFeed>(options_.primary, primary_->label(), origin_,
                                         std::move(listener));
  }
}

bool PostgresStore::listening_for_changes() const { return feed_ && feed_->listening(); }

std::vector<EndpointStatus> PostgresStore::endpoints() const {
  std::vector<EndpointStatus> out;
  out.push_back(EndpointStatus{primary_->label(), true, primary_->up(), false, 0});
  for (const auto& replica : replicas_) {
    out.push_back(EndpointStatus{replica->label(), false, replica->up(), replica->in_recovery(),
                                 replica->lag_ms()});
  }
  return out;
}

void PostgresStore::check_health() { health_->check_once(); }

std::vector<PoolConnections> PostgresStore::pool_usage() const {
  std::vector<PoolConnections> usage;
  const auto add = [&usage](const Endpoint& endpoint, const char* role) {
    usage.push_back({endpoint.address(), role, "in_use", endpoint.in_use()});
    usage.push_back({endpoint.address(), role, "idle", endpoint.idle()});
  };
  add(*primary_, "primary");
  for (const auto& replica : replicas_) add(*replica, "replica");
  return usage;
}

StoredCounts PostgresStore::stored_counts() {
  StoredCounts counts;
  read([&counts](Reader& reader) {
    Connection& db = static_cast<Transaction&>(reader).connection();
    const Result r = db.query("kSelectStoredCounts", kSelectStoredCounts);
    for (int row = 0; row < r.rows(); ++row) {
      const std::string name = r.text(row, 0);
      const int64_t n = r.int64(row, 1);
      if (name == "segments") counts.segments = n;
      if (name == "flows") counts.flows = n;
      if (name == "sources") counts.sources = n;
    }
  });
  return counts;
}

std::optional<std::string> PostgresStore::not_ready() {
  // Every instance shares the primary: were its loss to make them all unready, a load balancer
  // would turn a read-only time into a full outage (docs/decisions.md).
  std::string reasons;
  const auto answers = [&reasons](Endpoint& endpoint, std::string_view role) {
    // One the health check saw down is not asked: an unreachable host would hold the probe for
    // the connect timeout, longer than a load balancer waits for an answer.
    if (!endpoint.up()) {
      reasons += (reasons.empty() ? "" : "; ") + std::string(role) + " " + endpoint.label() +
                 ": down at the last health check";
      return false;
    }
    try {
      Lease db(endpoint);
      db->query("kSelectOne", kSelectOne);
      endpoint.mark_up();
      return true;
    } catch (const std::exception& e) {
      if (dynamic_cast<const EndpointFailure*>(&e) != nullptr) endpoint.mark_down();
      reasons += (reasons.empty() ? "" : "; ") + std::string(role) + ": " + e.what();
      return false;
    }
  };
  if (answers(*primary_, "primary")) return std::nullopt;
  for (const auto& replica : replicas_) {
    if (!replica->promoted() && answers(*replica, "replica")) return std::nullopt;
  }
  return reasons;
}

}  // namespace tams::store::postgres
