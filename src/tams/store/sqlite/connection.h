// Connection and Statement: thin RAII over sqlite3* and cached sqlite3_stmt*, turning every
// SQLite failure into std::runtime_error naming the statement.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace tams::obs {
class Histogram;
}

namespace tams::store::sqlite {

class Connection;

// A prepared statement borrowed from its Connection's cache for one use. Parameters are bound
// by 1-based index and copied into SQLite, so temporaries may be bound. When the handle is
// destroyed the statement is reset and its bindings cleared, ready for the next borrower.
// The time from borrowing to giving back (binds, steps and column reads) is observed on
// tams_db_query_duration_seconds{endpoint="sqlite",query=<name>}. Move-only; used by one thread at a time, like its Connection.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind_null(int index);

  // Advances to the next row: true when a row is available, false when the statement is done.
  // Throws std::runtime_error (statement name + SQLite message) on failure.
  bool step();
  // Steps to completion, for statements that return no rows.
  void run();

  // Columns of the current row, 0-based. column_text of NULL is "".
  int64_t column_int64(int index) const;
  std::string column_text(int index) const;
  bool column_is_null(int index) const;

 private:
  friend class Connection;
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    std::string name;
    bool in_use = false;
    obs::Histogram* duration = nullptr;  // the statement's series, resolved when prepared
  };
  Statement(Connection* connection, Cached* cached);
  [[noreturn]] void fail(int rc, std::string_view what) const;

  Connection* connection_;
  Cached* cached_;
  std::chrono::steady_clock::time_point borrowed_;
};

// One SQLite database connection with its cache of prepared statements (prepared with
// SQLITE_PREPARE_PERSISTENT, keyed by SQL text). Not thread-safe: one thread at a time, which is
// SQLite's "multi-thread" mode (the connection is opened with SQLITE_OPEN_NOMUTEX).
// Not copyable or movable.
class Connection {
 public:
  enum class Mode {
    kReadWrite,  // creates the file when missing
    kReadOnly,
  };

  // Opens the database at `path`. Throws std::runtime_error with SQLite's reason (the caller
  // knows which path it asked for).
  Connection(const std::string& path, Mode mode);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs `sql` (one or more statements, no results wanted) without caching. Throws
  // std::runtime_error naming `name` on failure.
  void exec(std::string_view name, std::string_view sql);

  // Rolls back the open transaction, if any, without throwing (for use while an exception is in
  // flight). Returns false when SQLite refused, leaving the connection in an unknown state.
  bool rollback() noexcept;

  // The cached statement for `sql` (prepared on first use), named `name` in error messages.
  // `sql` must be exactly one statement. A statement cannot be borrowed twice at once: finish
  // with one handle before preparing the same SQL again (std::logic_error otherwise).
  Statement prepare(std::string_view name, std::string_view sql);

  sqlite3* handle() const { return db_; }

 private:
  friend class Statement;
  // Bounds the cache: SQL built from filter combinations could otherwise grow it without end.
  static constexpr size_t kMaxCachedStatements = 256;

  sqlite3* db_ = nullptr;
  // Transparent hashing: looking a statement up by its SQL text allocates nothing.
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  std::unordered_map<std::string, Statement::Cached, SqlHash, std::equal_to<>> statements_;
};

// Throws std::runtime_error("SQLite error in {name}: {sqlite3_errmsg}").
[[noreturn]] void throw_sqlite_error(sqlite3* db, std::string_view name, int rc);

}  // namespace tams::store::sqlite
