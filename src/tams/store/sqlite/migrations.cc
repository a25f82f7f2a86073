#include "tams/store/sqlite/migrations.h"

#include <array>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tams/store/sqlite/connection.h"

namespace tams::store::sqlite {

namespace {

// Sources, flows, their tag and collection indexes, service settings, and the segment timeline
// (segments are registered by later work, but the flows `timerange` filter reads them).
// Documents are the stored JSON text; every other column is derived from it on write.
// Timeline columns are half-open int64 nanoseconds: start_ns included, end_ns excluded, with
// INT64_MIN / INT64_MAX for unbounded ends.
constexpr std::string_view kMigration1 = R"sql(
CREATE TABLE sources (
  id     TEXT PRIMARY KEY,
  format TEXT NOT NULL,
  label  TEXT,
  doc    TEXT NOT NULL
);
CREATE INDEX sources_by_format ON sources (format, id);
CREATE INDEX sources_by_label ON sources (label, id);

CREATE TABLE source_tags (
  source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
  name      TEXT NOT NULL,
  value     TEXT NOT NULL,
  PRIMARY KEY (source_id, name)
) WITHOUT ROWID;
CREATE INDEX source_tags_by_value ON source_tags (name, value);

CREATE TABLE flows (
  id           TEXT PRIMARY KEY,
  source_id    TEXT NOT NULL,
  format       TEXT NOT NULL,
  codec        TEXT,
  label        TEXT,
  frame_width  INTEGER,
  frame_height INTEGER,
  doc          TEXT NOT NULL
);
CREATE INDEX flows_by_source ON flows (source_id, id);
CREATE INDEX flows_by_format ON flows (format, id);
CREATE INDEX flows_by_codec ON flows (codec, id);
CREATE INDEX flows_by_label ON flows (label, id);
CREATE INDEX flows_by_frame_width ON flows (frame_width, id);
CREATE INDEX flows_by_frame_height ON flows (frame_height, id);

CREATE TABLE flow_tags (
  flow_id TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
  name    TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (flow_id, name)
) WITHOUT ROWID;
CREATE INDEX flow_tags_by_value ON flow_tags (name, value);

-- One row per flow_collection entry of the collecting flow, in document order. member_id is not
-- a foreign key: removing a deleted member from other collections is the caller's decision.
CREATE TABLE flow_collections (
  collector_id TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
  position     INTEGER NOT NULL,
  member_id    TEXT NOT NULL,
  role         TEXT NOT NULL,
  PRIMARY KEY (collector_id, position)
) WITHOUT ROWID;
CREATE INDEX flow_collections_by_member ON flow_collections (member_id, collector_id);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- Segments of one flow never overlap, so (flow_id, start_ns) order is also end order. No foreign
-- key to flows: segments of a deleted flow may be removed later, off the request path.
CREATE TABLE segments (
  flow_id   TEXT NOT NULL,
  start_ns  INTEGER NOT NULL,
  end_ns    INTEGER NOT NULL,
  doc       TEXT NOT NULL,
  object_id TEXT NOT NULL,
  PRIMARY KEY (flow_id, start_ns)
) WITHOUT ROWID;
)sql";

// Segment registration and the object and deletion bookkeeping around it.
// - flows.segments_updated lives beside the document so that segment writes never rewrite it.
// - segments keeps migration 1's table, (flow_id, start_ns) primary key: every timeline query is
//   a seek on it. segments_by_object answers the object_id filter of a flow's listing and its
//   deletes with the same seeks (object_id and flow_id fixed, start_ns ordered).
// - objects: one row per media object we allocated or first saw in a segment. The two partial
//   indexes hold exactly the garbage candidates (allocations never registered, by expiry; objects
//   whose last reference went), so the collector never reads the live objects.
// - object_refs: how many segments of each flow reference each object, for the object's
//   referenced_by_flows list (keyset on flow_id) and for knowing when the last reference goes.
// - deletion_requests: the deletion-request.json documents, with status / created / expiry
//   copied out of the document on write.
constexpr std::string_view kMigration2 = R"sql(
ALTER TABLE flows ADD COLUMN segments_updated TEXT;

CREATE INDEX segments_by_object ON segments (object_id, flow_id, start_ns);

CREATE TABLE objects (
  id                       TEXT PRIMARY KEY,
  storage_id               TEXT,
  allocated_for_flow       TEXT,
  first_referenced_by_flow TEXT,
  reference_count          INTEGER NOT NULL DEFAULT 0,
  ever_referenced          INTEGER NOT NULL DEFAULT 0,
  expires_at               INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX objects_expiring ON objects (expires_at) WHERE ever_referenced = 0 AND expires_at > 0;
CREATE INDEX objects_unreferenced ON objects (id) WHERE ever_referenced = 1 AND reference_count = 0;

CREATE TABLE object_refs (
  object_id     TEXT NOT NULL,
  flow_id       TEXT NOT NULL,
  segment_count INTEGER NOT NULL,
  PRIMARY KEY (object_id, flow_id)
) WITHOUT ROWID;

CREATE TABLE deletion_requests (
  id      TEXT PRIMARY KEY,
  flow_id TEXT NOT NULL,
  status  TEXT NOT NULL,
  created TEXT,
  expiry  TEXT,
  doc     TEXT NOT NULL
);
CREATE INDEX deletion_requests_by_created ON deletion_requests (created, id);
CREATE INDEX deletion_requests_pending ON deletion_requests (created, id)
  WHERE status IN ('created', 'started');
CREATE INDEX deletion_requests_by_expiry ON deletion_requests (expiry);
)sql";

// Webhooks: registrations, the event outbox and given-up deliveries.
// - webhooks: one row per registration, identity (url, api_key_name) ('' when absent); doc is the
//   registration as accepted. cursor is the seq of the last event this registration is done with
//   (delivered, filtered out or given up); attempts / next_attempt_ms / last_error describe the
//   retries of the next one. AUTOINCREMENT: an id is never reused, so a delivery finishing for a
//   removed registration cannot touch a newer one.
// - events: the outbox, written in the transaction of the change. seq orders every event;
//   AUTOINCREMENT so that a seq is never reused even when every event has been purged (cursors
//   compare against it). subject holds what filters look at, payload the event's content.
//   Events every registration has passed are purged.
// - webhook_failures: deliveries given up after the last attempt (the newest 1,000 are kept).
constexpr std::string_view kMigration3 = R"sql(
CREATE TABLE webhooks (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  url             TEXT NOT NULL,
  api_key_name    TEXT NOT NULL,
  doc             TEXT NOT NULL,
  base_url        TEXT NOT NULL,
  cursor          INTEGER NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT '',
  UNIQUE (url, api_key_name)
);

CREATE TABLE events (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  type      TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  subject   TEXT NOT NULL,
  payload   TEXT NOT NULL
);

CREATE TABLE webhook_failures (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook_id INTEGER NOT NULL,
  url        TEXT NOT NULL,
  event_seq  INTEGER NOT NULL,
  event_type TEXT NOT NULL,
  attempts   INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  failed_at  TEXT NOT NULL
);
)sql";

// Background work across instances: leases on webhook registrations and deletion requests, and
// the durable queue of media bytes to delete (see MetadataStore's LeaseClaim). lease_owner is ''
// and lease_until_ms 0 when free; a lease whose end has passed is free too.
// - media_deletions: the bytes of objects whose row the garbage collector removed, deleted from
//   their backend afterwards; the entry goes once the bytes are gone.
constexpr std::string_view kMigration4 = R"sql(
ALTER TABLE webhooks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deletion_requests ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE deletion_requests ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;

CREATE TABLE media_deletions (
  object_id      TEXT PRIMARY KEY,
  storage_id     TEXT NOT NULL,
  lease_owner    TEXT NOT NULL DEFAULT '',
  lease_until_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
)sql";

// What /metrics reports as stored, kept current instead of counted per scrape (a COUNT(*) over
// millions of segments): flows and sources by triggers (their writes are rare), segments by the
// store, once per write transaction with the transaction's net change.
constexpr std::string_view kMigration5 = R"sql(
CREATE TABLE stored_counts (
  name TEXT PRIMARY KEY,
  n    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO stored_counts (name, n) VALUES
  ('segments', (SELECT COUNT(*) FROM segments)),
  ('flows', (SELECT COUNT(*) FROM flows)),
  ('sources', (SELECT COUNT(*) FROM sources));
CREATE TRIGGER flows_counted_in AFTER INSERT ON flows
  BEGIN UPDATE stored_counts SET n = n + 1 WHERE name = 'flows'; END;
CREATE TRIGGER flows_counted_out AFTER DELETE ON flows
  BEGIN UPDATE stored_counts SET n = n - 1 WHERE name = 'flows'; END;
CREATE TRIGGER sources_counted_in AFTER INSERT ON sources
  BEGIN UPDATE stored_counts SET n = n + 1 WHERE name = 'sources'; END;
CREATE TRIGGER sources_counted_out AFTER DELETE ON sources
  BEGIN UPDATE stored_counts SET n = n - 1 WHERE name = 'sources'; END;
)sql";

constexpr std::array kMigrations = {
    Migration{1, "sources_flows_settings_segments", kMigration1},
    Migration{2, "segments_objects_deletion_requests", kMigration2},
    Migration{3, "webhooks_events", kMigration3},
    Migration{4, "job_leases", kMigration4},
    Migration{5, "stored_counts", kMigration5},
};

constexpr std::string_view kCreateSchemaMigrations = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TEXT NOT NULL
))sql";
constexpr std::string_view kSelectAppliedMigrations =
    "SELECT version, name FROM schema_migrations ORDER BY version";
constexpr std::string_view kInsertAppliedMigration =
    "INSERT INTO schema_migrations (version, name, applied_at) "
    "VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";

int migrate_in_transaction(Connection& db) {
  db.exec("kCreateSchemaMigrations", kCreateSchemaMigrations);
  const std::span<const Migration> known = migrations();
  std::vector<std::pair<int64_t, std::string>> recorded;
  {
    Statement applied = db.prepare("kSelectAppliedMigrations", kSelectAppliedMigrations);
    while (applied.step()) recorded.emplace_back(applied.column_int64(0), applied.column_text(1));
  }
  const int64_t current = recorded_version(known, recorded);
  int applied_now = 0;
  for (const Migration& migration : known) {
    if (migration.version <= current) continue;
    db.exec("migration " + std::to_string(migration.version) + " " + std::string(migration.name),
            migration.sql);
    db.prepare("kInsertAppliedMigration", kInsertAppliedMigration)
        .bind(1, int64_t{migration.version})
        .bind(2, migration.name)
        .run();
    ++applied_now;
  }
  return applied_now;
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int migrate(Connection& db) {
  db.exec("BEGIN IMMEDIATE", "BEGIN IMMEDIATE");
  try {
    const int applied = migrate_in_transaction(db);
    db.exec("COMMIT", "COMMIT");
    return applied;
  } catch (...) {
    db.rollback();
    throw;
  }
}

}  // namespace tams::store::sqlite
