#include "tams/store/postgres/migrations.h"

#include <array>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tams/store/postgres/connection.h"

namespace tams::store::postgres {

namespace {

// The SQLite store's migration 1 in PostgreSQL types. Keys and every text compared or ordered
// are COLLATE "C": byte order, as in SQLite, whatever the database's locale, so that listings
// and keyset cursors order ids the same way on both stores. Timeline columns are half-open int64
// nanoseconds: start_ns included, end_ns excluded, with INT64_MIN / INT64_MAX for unbounded ends.
constexpr std::string_view kMigration1 = R"sql(
CREATE TABLE sources (
  id     TEXT COLLATE "C" PRIMARY KEY,
  format TEXT COLLATE "C" NOT NULL,
  label  TEXT COLLATE "C",
  doc    TEXT NOT NULL
);
CREATE INDEX sources_by_format ON sources (format, id);
CREATE INDEX sources_by_label ON sources (label, id);

CREATE TABLE source_tags (
  source_id TEXT COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
  name      TEXT COLLATE "C" NOT NULL,
  value     TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (source_id, name)
);
CREATE INDEX source_tags_by_value ON source_tags (name, value);

CREATE TABLE flows (
  id           TEXT COLLATE "C" PRIMARY KEY,
  source_id    TEXT COLLATE "C" NOT NULL,
  format       TEXT COLLATE "C" NOT NULL,
  codec        TEXT COLLATE "C",
  label        TEXT COLLATE "C",
  frame_width  BIGINT,
  frame_height BIGINT,
  doc          TEXT NOT NULL
);
CREATE INDEX flows_by_source ON flows (source_id, id);
CREATE INDEX flows_by_format ON flows (format, id);
CREATE INDEX flows_by_codec ON flows (codec, id);
CREATE INDEX flows_by_label ON flows (label, id);
CREATE INDEX flows_by_frame_width ON flows (frame_width, id);
CREATE INDEX flows_by_frame_height ON flows (frame_height, id);

CREATE TABLE flow_tags (
  flow_id TEXT COLLATE "C" NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
  name    TEXT COLLATE "C" NOT NULL,
  value   TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (flow_id, name)
);
CREATE INDEX flow_tags_by_value ON flow_tags (name, value);

CREATE TABLE flow_collections (
  collector_id TEXT COLLATE "C" NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
  position     BIGINT NOT NULL,
  member_id    TEXT COLLATE "C" NOT NULL,
  role         TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (collector_id, position)
);
CREATE INDEX flow_collections_by_member ON flow_collections (member_id, collector_id);

CREATE TABLE settings (
  key   TEXT COLLATE "C" PRIMARY KEY,
  value TEXT NOT NULL
);

-- Segments of one flow never overlap, so (flow_id, start_ns) order is also end order: the
-- primary key's btree answers every timeline query with one seek and a walk.
CREATE TABLE segments (
  flow_id   TEXT COLLATE "C" NOT NULL,
  start_ns  BIGINT NOT NULL,
  end_ns    BIGINT NOT NULL,
  doc       TEXT NOT NULL,
  object_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (flow_id, start_ns)
);
)sql";

// The SQLite store's migration 2 (see sqlite/migrations.cc for the reasons of each index).
constexpr std::string_view kMigration2 = R"sql(
ALTER TABLE flows ADD COLUMN segments_updated TEXT;

CREATE INDEX segments_by_object ON segments (object_id, flow_id, start_ns);

CREATE TABLE objects (
  id                       TEXT COLLATE "C" PRIMARY KEY,
  storage_id               TEXT,
  allocated_for_flow       TEXT,
  first_referenced_by_flow TEXT,
  reference_count          BIGINT NOT NULL DEFAULT 0,
  ever_referenced          BIGINT NOT NULL DEFAULT 0,
  expires_at               BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX objects_expiring ON objects (expires_at) WHERE ever_referenced = 0 AND expires_at > 0;
CREATE INDEX objects_unreferenced ON objects (id) WHERE ever_referenced = 1 AND reference_count = 0;

CREATE TABLE object_refs (
  object_id     TEXT COLLATE "C" NOT NULL,
  flow_id       TEXT COLLATE "C" NOT NULL,
  segment_count BIGINT NOT NULL,
  PRIMARY KEY (object_id, flow_id)
);

CREATE TABLE deletion_requests (
  id      TEXT COLLATE "C" PRIMARY KEY,
  flow_id TEXT COLLATE "C" NOT NULL,
  status  TEXT COLLATE "C" NOT NULL,
  created TEXT COLLATE "C",
  expiry  TEXT COLLATE "C",
  doc     TEXT NOT NULL
);
CREATE INDEX deletion_requests_by_created ON deletion_requests (created, id);
CREATE INDEX deletion_requests_pending ON deletion_requests (created, id)
  WHERE status IN ('created', 'started');
CREATE INDEX deletion_requests_by_expiry ON deletion_requests (expiry);
)sql";

// The SQLite store's migration 3. Identity columns stand for AUTOINCREMENT: a sequence never
// hands out a value twice, even after every row was deleted (webhook cursors compare against
// event seqs). Write transactions are serialized (PostgresStore::write), so seqs also commit in
// ascending order and a cursor never passes an event that commits later.
constexpr std::string_view kMigration3 = R"sql(
CREATE TABLE webhooks (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  url             TEXT COLLATE "C" NOT NULL,
  api_key_name    TEXT COLLATE "C" NOT NULL,
  doc             TEXT NOT NULL,
  base_url        TEXT NOT NULL,
  cursor          BIGINT NOT NULL,
  attempts        BIGINT NOT NULL DEFAULT 0,
  next_attempt_ms BIGINT NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT '',
  UNIQUE (url, api_key_name)
);

CREATE TABLE events (
  seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type      TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  subject   TEXT NOT NULL,
  payload   TEXT NOT NULL
);

CREATE TABLE webhook_failures (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id BIGINT NOT NULL,
  url        TEXT NOT NULL,
  event_seq  BIGINT NOT NULL,
  event_type TEXT NOT NULL,
  attempts   BIGINT NOT NULL,
  last_error TEXT NOT NULL,
  failed_at  TEXT NOT NULL
);
)sql";

// Background work across instances (docs/architecture.md#the-postgresql-statements): leases on
// webhook registrations and deletion requests, and the durable queue of media bytes to delete.
// lease_owner is '' and lease_until_ms 0 when free; a lease whose end has passed is free too.
constexpr std::string_view kMigration4 = R"sql(
ALTER TABLE webhooks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '',
                     ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deletion_requests ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '',
                              ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0;

CREATE TABLE media_deletions (
  object_id      TEXT PRIMARY KEY,
  storage_id     TEXT NOT NULL,
  lease_owner    TEXT NOT NULL DEFAULT '',
  lease_until_ms BIGINT NOT NULL DEFAULT 0
);
)sql";

// What /metrics reports as stored, kept current instead of counted per scrape: flows and sources
// by triggers (their writes are rare), segments by the store, once per write transaction with
// the transaction's net change (write transactions are serialized, so the row is no hot spot
// beyond that lock).
constexpr std::string_view kMigration5 = R"sql(
CREATE TABLE stored_counts (
  name TEXT PRIMARY KEY,
  n    BIGINT NOT NULL
);
INSERT INTO stored_counts (name, n) VALUES
  ('segments', (SELECT count(*) FROM segments)),
  ('flows', (SELECT count(*) FROM flows)),
  ('sources', (SELECT count(*) FROM sources));

CREATE FUNCTION tams_count_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE stored_counts SET n = n + (CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END)
  WHERE name = TG_ARGV[0];
  RETURN NULL;
END
$$;
CREATE TRIGGER flows_counted AFTER INSERT OR DELETE ON flows
  FOR EACH ROW EXECUTE FUNCTION tams_count_stored('flows');
CREATE TRIGGER sources_counted AFTER INSERT OR DELETE ON sources
  FOR EACH ROW EXECUTE FUNCTION tams_count_stored('sources');
)sql";

constexpr std::array kMigrations = {
    Migration{1, "sources_flows_settings_segments", kMigration1},
    Migration{2, "segments_objects_deletion_requests", kMigration2},
    Migration{3, "webhooks_events", kMigration3},
    Migration{4, "job_leases", kMigration4},
    Migration{5, "stored_counts", kMigration5},
};

constexpr std::string_view kAdvisoryLock = "SELECT pg_advisory_lock($1::bigint)";
constexpr std::string_view kAdvisoryUnlock = "SELECT pg_advisory_unlock($1::bigint)";
constexpr std::string_view kBegin = "BEGIN";
constexpr std::string_view kCommit = "COMMIT";
constexpr std::string_view kCreateSchemaMigrations = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    BIGINT PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL
))sql";
constexpr std::string_view kSelectAppliedMigrations =
    "SELECT version, name FROM schema_migrations ORDER BY version";
constexpr std::string_view kInsertAppliedMigration =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())";

int migrate_in_transaction(Connection& db) {
  db.exec("kCreateSchemaMigrations", kCreateSchemaMigrations);
  const std::span<const Migration> known = migrations();
  const Result applied = db.query("kSelectAppliedMigrations", kSelectAppliedMigrations);
  std::vector<std::pair<int64_t, std::string>> recorded;
  recorded.reserve(applied.rows());
  for (int row = 0; row < applied.rows(); ++row) {
    recorded.emplace_back(applied.int64(row, 0), applied.text(row, 1));
  }
  const int64_t current = recorded_version(known, recorded);
  int applied_now = 0;
  for (const Migration& migration : known) {
    if (migration.version <= current) continue;
    db.exec("migration " + std::to_string(migration.version) + " " + std::string(migration.name),
            migration.sql);
    db.query("kInsertAppliedMigration", kInsertAppliedMigration,
             Params(int64_t{migration.version}, migration.name));
    ++applied_now;
  }
  return applied_now;
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int migrate(Connection& db) {
  db.query("kAdvisoryLock", kAdvisoryLock, Params(kMigrationLockKey));
  try {
    db.exec("kBegin", kBegin);
    const int applied = migrate_in_transaction(db);
    db.exec("kCommit", kCommit);
    db.query("kAdvisoryUnlock", kAdvisoryUnlock, Params(kMigrationLockKey));
    return applied;
  } catch (...) {
    // Ending the session (the caller drops a failed connection) also releases the lock.
    if (db.rollback()) {
      try {
        db.query("kAdvisoryUnlock", kAdvisoryUnlock, Params(kMigrationLockKey));
      } catch (...) {
      }
    }
    throw;
  }
}

}  // namespace tams::store::postgres
