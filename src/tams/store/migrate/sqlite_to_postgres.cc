#include "tams/store/migrate/sqlite_to_postgres.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "tams/store/postgres/connection.h"
#include "tams/store/postgres/postgres_store.h"
#include "tams/store/sqlite/connection.h"
#include "tams/store/sqlite/sqlite_store.h"

namespace tams::store::migrate {

namespace {

using postgres::Params;

// Tables that are not metadata: each store keeps its own migration history.
const std::set<std::string> kNotCopied = {"schema_migrations"};
// Tables whose rows a migration seeds (derived counters), so a fresh target is not empty there:
// they are emptied and then copied like the others.
const std::set<std::string> kSeededByMigrations = {"stored_counts"};
// Rows per COPY statement: bounds the memory a huge table's copy takes.
constexpr int64_t kRowsPerCopy = 20000;

constexpr std::string_view kSqliteTables =
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
    "ORDER BY rowid";
constexpr std::string_view kSqliteVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
constexpr std::string_view kSqliteSequence = "SELECT seq FROM sqlite_sequence WHERE name = ?1";
constexpr std::string_view kSqliteHasSequences =
    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'";
constexpr std::string_view kPgVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
constexpr std::string_view kPgColumns =
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = $1";
constexpr std::string_view kPgIdentities =
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'";
constexpr std::string_view kPgSetSequence =
    "SELECT setval(pg_get_serial_sequence($1, $2), $3::bigint, $4::boolean)";

std::string sql_identifier(std::string_view identifier) {
  std::string out = "\"";
  for (char c : identifier) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// One value in COPY's text format.
void append_copy_value(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

std::vector<std::string> sqlite_columns(sqlite::Connection& db, const std::string& table) {
  std::vector<std::string> columns;
  auto st = db.prepare("table_info", "SELECT name FROM pragma_table_info(?1) ORDER BY cid");
  st.bind(1, table);
  while (st.step()) columns.push_back(st.column_text(0));
  return columns;
}

int64_t sqlite_count(sqlite::Connection& db, const std::string& table) {
  auto st = db.prepare("count", "SELECT COUNT(*) FROM " + sql_identifier(table));
  st.step();
  return st.column_int64(0);
}

int64_t pg_count(postgres::Connection& db, const std::string& table) {
  return db.query("count", "SELECT COUNT(*) FROM " + sql_identifier(table)).int64(0, 0);
}

// Copies one table in pieces of kRowsPerCopy rows; returns the rows sent.
int64_t copy_table(sqlite::Connection& from, postgres::Connection& to, const std::string& table,
                   const std::vector<std::string>& columns) {
  std::string select = "SELECT ";
  std::string copy = "COPY " + sql_identifier(table) + " (";
  for (size_t i = 0; i < columns.size(); ++i) {
    select += (i ? ", " : "") + sql_identifier(columns[i]);
    copy += (i ? ", " : "") + sql_identifier(columns[i]);
  }
  select += " FROM " + sql_identifier(table);
  copy += ") FROM STDIN";
  auto st = from.prepare("copy source", select);
  const int n = static_cast<int>(columns.size());
  int64_t sent = 0;
  std::string data;
  int64_t pending = 0;
  auto flush = [&] {
    if (pending == 0) return;
    to.copy_in("COPY " + table, copy, data);
    sent += pending;
    pending = 0;
    data.clear();
  };
  while (st.step()) {
    for (int c = 0; c < n; ++c) {
      if (c) data += '\t';
      if (st.column_is_null(c)) {
        data += "\\N";
      } else {
        append_copy_value(data, st.column_text(c));
      }
    }
    data += '\n';
    if (++pending == kRowsPerCopy) flush();
  }
  flush();
  return sent;
}

}  // namespace

std::vector<CopiedTable> copy_sqlite_to_postgres(
    const std::string& sqlite_path, const std::string& postgres_url,
    const std::function<void(const CopiedTable&)>& progress) {
  const std::string target = postgres::redact_url(postgres_url);
  if (!std::filesystem::is_regular_file(sqlite_path)) {
    throw MigrateError("no embedded store at " + sqlite_path);
  }
  // Both schemas at this build's latest version: the same tables and columns on both sides.
  try {
    sqlite::SqliteStore::open(sqlite_path);
  } catch (const std::exception& e) {
    throw MigrateError(std::string("source: ") + e.what());
  }
  try {
    postgres::PostgresOptions options;
    options.primary = postgres_url;
    postgres::PostgresStore::open(options);
  } catch (const std::exception& e) {
    throw MigrateError("target " + target + ": " + e.what());
  }

  std::vector<CopiedTable> copied;
  try {
    sqlite::Connection from(sqlite_path, sqlite::Connection::Mode::kReadWrite);
    from.exec("busy_timeout", "PRAGMA busy_timeout = 5000");
    postgres::Connection to(postgres_url, target);

    // The source stays as it is until we are done: no tams can write it meanwhile.
    from.exec("BEGIN IMMEDIATE", "BEGIN IMMEDIATE");
    to.exec("BEGIN", "BEGIN");

    int64_t source_version = 0;
    {
      auto st = from.prepare("kSqliteVersion", kSqliteVersion);
      st.step();
      source_version = st.column_int64(0);
    }
    const int64_t target_version = to.query("kPgVersion", kPgVersion).int64(0, 0);
    if (source_version != target_version) {
      throw MigrateError("the schemas differ: the embedded store is at migration " +
                         std::to_string(source_version) + ", PostgreSQL at " +
                         std::to_string(target_version));
    }

    std::vector<std::string> tables;
    {
      auto st = from.prepare("kSqliteTables", kSqliteTables);
      while (st.step()) {
        std::string name = st.column_text(0);
        if (!kNotCopied.contains(name)) tables.push_back(std::move(name));
      }
    }

    // The target holds no metadata yet, and has every table and column of the source.
    std::map<std::string, std::vector<std::string>> columns;
    for (const auto& table : tables) {
      columns[table] = sqlite_columns(from, table);
      std::set<std::string> target_columns;
      const auto r = to.query("kPgColumns", kPgColumns, Params(table));
      for (int i = 0; i < r.rows(); ++i) target_columns.insert(r.text(i, 0));
      if (target_columns.empty()) {
        throw MigrateError("PostgreSQL has no table " + table);
      }
      for (const auto& c : columns[table]) {
        if (!target_columns.contains(c)) {
          throw MigrateError("PostgreSQL table " + table + " has no column " + c);
        }
      }
      if (kSeededByMigrations.contains(table)) continue;
      if (pg_count(to, table) != 0) {
        throw MigrateError("the target database already holds metadata (table " + table +
                           " is not empty); migrate into a new, empty database");
      }
    }
    for (const auto& table : tables) {
      if (kSeededByMigrations.contains(table)) to.exec("empty " + table, "DELETE FROM " + sql_identifier(table));
    }

    // Creation order: a table is created after the tables its foreign keys name.
    for (const auto& table : tables) {
      copied.push_back({table, copy_table(from, to, table, columns[table])});
    }

    // Identity columns continue after the source's high-water mark (AUTOINCREMENT never reuses
    // a value, even one whose row is gone).
    bool has_sequences = false;
    {
      auto st = from.prepare("kSqliteHasSequences", kSqliteHasSequences);
      st.step();
      has_sequences = st.column_int64(0) > 0;
    }
    for (const auto& table : tables) {
      const auto identities = to.query("kPgIdentities", kPgIdentities, Params(table));
      for (int i = 0; i < identities.rows(); ++i) {
        const std::string column = identities.text(i, 0);
        int64_t high = 0;
        if (has_sequences) {
          auto st = from.prepare("kSqliteSequence", kSqliteSequence);
          st.bind(1, table);
          if (st.step()) high = st.column_int64(0);
        }
        {
          auto st = from.prepare("max", "SELECT COALESCE(MAX(" + sql_identifier(column) + "), 0) FROM " +
                                            sql_identifier(table));
          st.step();
          high = std::max(high, st.column_int64(0));
        }
        // setval(seq, 1, false): the next value is 1; (seq, n, true): the next is n + 1.
        to.query("kPgSetSequence", kPgSetSequence,
                 Params(table, column, std::max<int64_t>(high, 1), high > 0 ? "true" : "false"));
      }
    }

    // Every row arrived: counted on both sides before anything is committed.
    for (const auto& t : copied) {
      const int64_t source_rows = sqlite_count(from, t.name);
      const int64_t target_rows = pg_count(to, t.name);
      if (source_rows != t.rows || target_rows != t.rows) {
        throw MigrateError("table " + t.name + ": " + std::to_string(source_rows) +
                           " rows in the embedded store, " + std::to_string(t.rows) + " copied, " +
                           std::to_string(target_rows) + " in PostgreSQL");
      }
    }
    to.exec("COMMIT", "COMMIT");
    // Planner statistics now, rather than when autovacuum comes round: the first queries on a
    // freshly loaded database would otherwise be planned blind.
    to.exec("ANALYZE", "ANALYZE");
    from.exec("ROLLBACK", "ROLLBACK");  // nothing was written to the source
    if (progress) {
      for (const auto& t : copied) progress(t);
    }

  } catch (const MigrateError&) {
    throw;
  } catch (const std::exception& e) {
    throw MigrateError(e.what());
  }
  return copied;
}

}  // namespace tams::store::migrate
