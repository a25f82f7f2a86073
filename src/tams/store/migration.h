// Migration: one numbered schema step of a metadata store, and the check of what a database
// records against what a build knows. Shared by the SQLite and PostgreSQL stores.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tams::store {

// One schema step. A migration, once released, is never edited: changes are new migrations
// with the next version.
struct Migration {
  int version;            // 1, 2, 3 ... without gaps
  std::string_view name;  // recorded beside the version; a mismatch on open is an error
  std::string_view sql;   // one or more statements
};

// The schema version of a database whose schema_migrations table holds `recorded` (version,
// name) rows in ascending order, checked against the `known` migrations of this build. Throws
// std::runtime_error when the database is newer than this build, or records a migration under a
// name this build does not know.
int64_t recorded_version(std::span<const Migration> known,
                         const std::vector<std::pair<int64_t, std::string>>& recorded);

}  // namespace tams::store
