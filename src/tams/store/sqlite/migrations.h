// Numbered schema migrations of the SQLite metadata store.
#pragma once

#include <span>
#include <string_view>

namespace tams::store::sqlite {

class Connection;

// One schema step. A migration, once released, is never edited: changes are new migrations
// with the next version.
struct Migration {
  int version;            // 1, 2, 3 ... without gaps
  std::string_view name;  // recorded beside the version; a mismatch on open is an error
  std::string_view sql;   // one or more statements
};

// Every migration this build knows, in ascending version order.
std::span<const Migration> migrations();

// Brings the database behind `db` (a read-write connection outside any transaction) to the
// latest known version in one IMMEDIATE transaction, recording each applied step in the
// schema_migrations table. Returns the number of migrations applied (0 when already current).
// Throws std::runtime_error, leaving the database unchanged, when the database has a newer
// schema than this build knows, when a recorded migration's name differs from this build's, or
// when a migration fails.
int migrate(Connection& db);

}  // namespace tams::store::sqlite
