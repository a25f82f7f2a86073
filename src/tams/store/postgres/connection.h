// Connection, Params and Result: thin RAII over libpq's PGconn and PGresult, with a per-connection
// cache of prepared statements keyed by SQL text.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tams/store/unavailable.h"

struct pg_conn;
struct pg_result;

namespace tams::obs {
class Histogram;
}

namespace tams::store::postgres {

// The endpoint cannot serve this call: the connection could not be made, broke, or the server is
// shutting down or in recovery conflict. Another endpoint may succeed; the same one may succeed
// later.
class EndpointFailure : public Unavailable {
 public:
  using Unavailable::Unavailable;
};

// Query parameters in text form, $1 first. nullopt values are SQL NULL.
class Params {
 public:
  Params() = default;
  template <class... T>
  explicit Params(const T&... values) {
    (add(values), ...);
  }

  Params& add(int64_t value) { return push(std::to_string(value)); }
  Params& add(int value) { return push(std::to_string(value)); }
  Params& add(std::string_view value) { return push(std::string(value)); }
  Params& add(const std::string& value) { return push(value); }
  Params& add(const char* value) { return push(std::string(value)); }
  Params& add(const std::optional<std::string_view>& value) {
    return value ? push(std::string(*value)) : push(std::nullopt);
  }
  Params& add(const std::optional<int64_t>& value) {
    return value ? push(std::to_string(*value)) : push(std::nullopt);
  }

  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  Params& push(std::optional<std::string> value) {
    values_.push_back(std::move(value));
    return *this;
  }
  std::vector<std::optional<std::string>> values_;
};

// The rows of one statement's answer (all in memory). Move-only.
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* result);
  Result(Result&&) noexcept = default;
  Result& operator=(Result&&) noexcept = default;

  int rows() const;
  // Row and column are 0-based. text() of NULL is "".
  std::string text(int row, int column) const;
  // Reads an integer column (bigint or boolean 't'/'f'); NULL is 0. Throws std::runtime_error for
  // other text.
  int64_t int64(int row, int column) const;
  bool is_null(int row, int column) const;
  // Rows affected by an INSERT, UPDATE or DELETE.
  int64_t affected() const;

 private:
  struct Clear {
    void operator()(pg_result* result) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
};

// One libpq connection with its prepared statements. Not thread-safe: one thread at a time.
// Not copyable or movable.
class Connection {
 public:
  // Connects to `url` (a postgres:// URI or key=value conninfo). `label` names the endpoint in
  // messages (the URL without its password). Throws EndpointFailure with libpq's reason.
  // Each query()'s time (execution and receiving its rows) is observed on
  // tams_db_query_duration_seconds{endpoint=endpoint_address(url), query=<name>}.
  Connection(const std::string& url, std::string label);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs `sql` (one or more statements, no parameters) with the simple protocol.
  void exec(std::string_view name, std::string_view sql);

  // Runs `sql` (exactly one statement, parameters $1...) as a prepared statement, prepared on the
  // connection's first use of that text; `name` names it in errors. Throws EndpointFailure when
  // the connection failed, std::runtime_error("PostgreSQL error in {name}: ...") for SQL errors.
  Result query(std::string_view name, std::string_view sql, const Params& params = Params());

  // Runs `sql` (a `COPY ... FROM STDIN` in text format) and sends `data` (rows in COPY's text
  // format) as its input. Returns the number of rows copied. Throws like query().
  int64_t copy_in(std::string_view name, std::string_view sql, std::string_view data);

  // Payloads of the notifications on `channel` (after a LISTEN on this connection) received so
  // far, in arrival order; when there are none, those that arrive within `timeout` (possibly
  // none). Throws EndpointFailure when the connection failed.
  std::vector<std::string> wait_for_notifications(std::string_view channel,
                                                  std::chrono::milliseconds timeout);

  // Rolls back the open transaction, if any, without throwing. False when the connection is
  // broken or refused, so that it must not be reused.
  bool rollback() noexcept;

  // True once the connection failed; a broken connection is discarded, never reused.
  bool broken() const;
  // True until the first statement runs: a failure on a connection that has served before may
  // only mean that its server restarted since (the socket is dead, libpq cannot know yet).
  bool fresh() const { return statements_run_ == 0; }
  // Rows inserted, updated or deleted by this connection's statements so far (counted from
  // their command tags; a SELECT whose CTEs write reports its changes with note_rows_changed).
  int64_t rows_changed() const { return rows_changed_; }
  void note_rows_changed(int64_t rows) { rows_changed_ += rows; }
  const std::string& label() const { return label_; }

 private:
  // Bounds the cache: SQL built from filter combinations could otherwise grow it without end.
  static constexpr size_t kMaxPreparedStatements = 256;

  [[noreturn]] void fail(std::string_view name, pg_result* result);
  Result check(std::string_view name, pg_result* result);

  pg_conn* conn_ = nullptr;
  std::string label_;
  bool broken_ = false;
  uint64_t next_statement_ = 0;
  uint64_t statements_run_ = 0;
  int64_t rows_changed_ = 0;
  struct Prepared {
    std::string name;                    // the server-side prepared statement's name
    obs::Histogram* duration = nullptr;  // the statement's series, resolved when prepared
  };
  std::string address_;                                   // endpoint_address(url)
  std::unordered_map<std::string, Prepared> statements_;  // SQL text -> prepared statement
};

// The server `url` names as host:port (libpq's defaults filled in: localhost, 5432), the form
// metrics label an endpoint with; never credentials or the database name.
std::string endpoint_address(const std::string& url);

// `url` with any password replaced by "***" (postgres://user:***@host/db, password=***), for
// logs and messages.
std::string redact_url(std::string_view url);

}  // namespace tams::store::postgres
