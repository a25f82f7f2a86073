// Numbered schema migrations of the PostgreSQL metadata store.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "tams/store/migration.h"

namespace tams::store::postgres {

class Connection;

// The versions and names are those of the SQLite store's migrations, so that a database of
// either kind at version N has the same tables.
using store::Migration;

// Every migration this build knows, in ascending version order.
std::span<const Migration> migrations();

// Session advisory lock key held while migrating ("tams" + 1).
inline constexpr int64_t kMigrationLockKey = 0x74616d7301;

// Brings the database behind `db` (a primary connection outside any transaction) to the latest
// known version in one transaction, under the session advisory lock kMigrationLockKey, so that
// several tams instances starting at once apply each migration exactly once (the others wait,
// then find nothing left to do). Returns the number of migrations applied. Throws
// std::runtime_error, leaving the schema unchanged, when the database has a newer schema than
// this build knows, when a recorded migration's name differs from this build's, or when a
// migration fails; EndpointFailure when the server cannot be reached.
int migrate(Connection& db);

}  // namespace tams::store::postgres
