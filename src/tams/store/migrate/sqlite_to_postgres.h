// Copying an embedded store's metadata (SQLite) into PostgreSQL: `tams migrate`, so a user can
// outgrow the embedded default without losing anything. Media bytes stay where they are (the
// local media store in the data dir, or S3); only the metadata moves.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tams::store::migrate {

// Why a migration did not happen (one line, no password): a missing source, a target that is not
// empty, schemas that do not match, a failed copy. Nothing was committed to the target.
class MigrateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One copied table and its rows, counted on both sides after the commit.
struct CopiedTable {
  std::string name;
  int64_t rows = 0;
};

// Copies every table of the SQLite database at `sqlite_path` into the PostgreSQL database at
// `postgres_url`, in one PostgreSQL transaction:
// - both schemas are first brought to this build's latest migration (the same numbers on both);
// - the source is read inside one write-locked SQLite transaction, so a tams still running on it
//   cannot change it half way (it waits, or the copy fails with "database is locked");
// - the target must hold no metadata yet (a fresh database, or one tams only migrated);
// - identity sequences (webhook ids, event seqs) continue after the source's high-water marks,
//   so webhook cursors and ids keep their meaning;
// - every table's row count is compared on both sides before the commit, and the target is
//   ANALYZEd after it.
// `progress` is called after each table. Throws MigrateError; nothing is committed then.
std::vector<CopiedTable> copy_sqlite_to_postgres(
    const std::string& sqlite_path, const std::string& postgres_url,
    const std::function<void(const CopiedTable&)>& progress = {});

}  // namespace tams::store::migrate
