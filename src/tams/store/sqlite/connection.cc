#include "tams/store/sqlite/connection.h"

#include <sqlite3.h>

#include <mutex>
#include <stdexcept>
#include <utility>

#include "tams/obs/metrics.h"

namespace tams::store::sqlite {

void throw_sqlite_error(sqlite3* db, std::string_view name, int rc) {
  std::string message = "SQLite error in ";
  message.append(name).append(": ");
  // The connection's message belongs to the latest failing call; fall back to the code's text.
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message.append(detail != nullptr ? detail : sqlite3_errstr(rc));
  throw std::runtime_error(message);
}

// ---- Statement ----

Statement::Statement(Connection* connection, Cached* cached)
    : connection_(connection), cached_(cached), borrowed_(std::chrono::steady_clock::now()) {
  cached_->in_use = true;
}

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_),
      cached_(std::exchange(other.cached_, nullptr)),
      borrowed_(other.borrowed_) {}

Statement::~Statement() {
  if (cached_ == nullptr) return;
  cached_->duration->observe(std::chrono::steady_clock::now() - borrowed_);
  // reset() repeats the last step's error code; that error was already reported by step().
  sqlite3_reset(cached_->stmt);
  sqlite3_clear_bindings(cached_->stmt);
  cached_->in_use = false;
}

void Statement::fail(int rc, std::string_view what) const {
  std::string name = cached_->name;
  if (!what.empty()) name.append(" (").append(what).append(")");
  throw_sqlite_error(connection_->db_, name, rc);
}

Statement& Statement::bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(cached_->stmt, index, value);
  if (rc != SQLITE_OK) fail(rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  // SQLITE_TRANSIENT: SQLite copies the text, so callers may bind temporaries.
  const int rc = sqlite3_bind_text64(cached_->stmt, index, value.data(), value.size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(rc, "bind");
  return *this;
}

Statement& Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(cached_->stmt, index);
  if (rc != SQLITE_OK) fail(rc, "bind");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(cached_->stmt);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc, "");
}

void Statement::run() {
  while (step()) {
  }
}

int64_t Statement::column_int64(int index) const {
  return sqlite3_column_int64(cached_->stmt, index);
}

std::string Statement::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(cached_->stmt, index));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(cached_->stmt, index)));
}

bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(cached_->stmt, index) == SQLITE_NULL;
}

// ---- Connection ----

Connection::Connection(const std::string& path, Mode mode) {
  // Before SQLite's first use in the process: no allocation statistics. Keeping them takes a
  // process-wide mutex on every sqlite3_malloc and sqlite3_free, which every connection's
  // thread then contends for; the store never reads them.
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  const int flags =
      SQLITE_OPEN_NOMUTEX | (mode == Mode::kReadWrite ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                                      : SQLITE_OPEN_READONLY);
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string reason = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw std::runtime_error("cannot open SQLite database: " + reason);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Connection::~Connection() {
  for (auto& [sql, cached] : statements_) sqlite3_finalize(cached.stmt);
  sqlite3_close_v2(db_);
}

void Connection::exec(std::string_view name, std::string_view sql) {
  const std::string text(sql);  // sqlite3_exec wants a NUL-terminated string
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = "SQLite error in ";
    message.append(name).append(": ").append(error != nullptr ? error : sqlite3_errstr(rc));
    sqlite3_free(error);
    throw std::runtime_error(message);
  }
}

bool Connection::rollback() noexcept {
  if (sqlite3_get_autocommit(db_) != 0) return true;  // no transaction open
  return sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK;
}

Statement Connection::prepare(std::string_view name, std::string_view sql) {
  auto found = statements_.find(sql);
  if (found == statements_.end()) {
    if (statements_.size() >= kMaxCachedStatements) {
      std::erase_if(statements_, [](auto& entry) {
        if (entry.second.in_use) return false;
        sqlite3_finalize(entry.second.stmt);
        return true;
      });
    }
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      throw_sqlite_error(db_, std::string(name) + " (prepare)", rc);
    }
    const std::string_view rest(tail, static_cast<size_t>(sql.data() + sql.size() - tail));
    if (stmt == nullptr || rest.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      sqlite3_finalize(stmt);
      throw std::logic_error("SQL of " + std::string(name) + " is not exactly one statement");
    }
    static auto& durations = obs::Registry::global().histogram(
        "tams_db_query_duration_seconds",
        "Time a named database statement was in use (binds, steps, reading rows).",
        {"endpoint", "query"}, obs::buckets::kQuerySeconds);
    obs::Histogram* duration = &durations.with({"sqlite", name});
    found = statements_
                .emplace(std::string(sql),
                         Statement::Cached{stmt, std::string(name), false, duration})
                .first;
  }
  if (found->second.in_use) {
    throw std::logic_error("statement " + found->second.name + " is already in use");
  }
  return Statement(this, &found->second);
}

}  // namespace tams::store::sqlite
