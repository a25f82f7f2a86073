// Numbered schema migrations of the SQLite metadata store.
#pragma once

#include <span>
#include <string_view>

#include "tams/store/migration.h"

namespace tams::store::sqlite {

class Connection;

using store::Migration;

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
