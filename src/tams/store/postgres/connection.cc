#include "tams/store/postgres/connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <stdexcept>

#include "tams/obs/metrics.h"

namespace tams::store::postgres {

namespace {

// SQLSTATEs meaning "this endpoint cannot serve now, another (or a later try) may": connection
// exceptions (class 08), shutdown and startup (57P01-57P03), and a hot standby cancelling a
// query that conflicts with recovery (40001 on a replica).
bool endpoint_failure_state(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03" ||
         state == "40001";
}

std::string first_line(const char* message) {
  std::string_view text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

// ---- Result ----

void Result::Clear::operator()(pg_result* result) const { PQclear(result); }

Result::Result(pg_result* result) : result_(result) {}

int Result::rows() const { return result_ ? PQntuples(result_.get()) : 0; }

std::string Result::text(int row, int column) const {
  if (PQgetisnull(result_.get(), row, column)) return {};
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

int64_t Result::int64(int row, int column) const {
  if (PQgetisnull(result_.get(), row, column)) return 0;
  const char* value = PQgetvalue(result_.get(), row, column);
  const char* end = value + PQgetlength(result_.get(), row, column);
  if (end - value == 1 && (*value == 't' || *value == 'f')) return *value == 't' ? 1 : 0;
  int64_t number = 0;
  const auto [ptr, ec] = std::from_chars(value, end, number);
  if (ec != std::errc() || ptr != end) {
    throw std::runtime_error("PostgreSQL column " + std::to_string(column) +
                             " is not an integer: " + std::string(value, end));
  }
  return number;
}

bool Result::is_null(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

int64_t Result::affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  int64_t count = 0;
  std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), count);
  return count;
}

// ---- Connection ----

Connection::Connection(const std::string& url, std::string label)
    : label_(std::move(label)), address_(endpoint_address(url)) {
  // Our defaults come first: settings in the URL override them (libpq applies later keywords
  // over earlier ones, and expands `dbname` at its position).
  // synchronous_commit=on: a commit returns once its WAL is flushed (the server default, made
  // explicit so that a database-wide "off" cannot weaken the store's durability).
  const char* keywords[] = {"connect_timeout", "application_name", "keepalives_idle",
                            "options",         "dbname",           nullptr};
  const char* values[] = {"2", "tams", "10", "-c synchronous_commit=on", url.c_str(), nullptr};
  conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn_ == nullptr) throw EndpointFailure("PostgreSQL " + label_ + ": out of memory");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string reason = first_line(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw EndpointFailure("cannot connect to PostgreSQL " + label_ + ": " + reason);
  }
  // Server notices ("relation already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool Connection::broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }

void Connection::fail(std::string_view name, pg_result* result) {
  const char* state_field =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string state = state_field != nullptr ? state_field : "";
  std::string message = first_line(result != nullptr ? PQresultErrorMessage(result) : nullptr);
  if (message.empty()) message = first_line(PQerrorMessage(conn_));
  PQclear(result);
  if (PQstatus(conn_) != CONNECTION_OK || endpoint_failure_state(state)) {
    if (PQstatus(conn_) != CONNECTION_OK || !state.starts_with("40")) broken_ = true;
    throw EndpointFailure("PostgreSQL " + label_ + " failed in " + std::string(name) + ": " +
                          message);
  }
  throw std::runtime_error("PostgreSQL error in " + std::string(name) + ": " + message);
}

Result Connection::check(std::string_view name, pg_result* result) {
  const ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(name, result);
  const std::string_view command = PQcmdStatus(result);
  Result checked(result);
  if (command.starts_with("INSERT") || command.starts_with("UPDATE") ||
      command.starts_with("DELETE")) {
    rows_changed_ += checked.affected();
  }
  return checked;
}

void Connection::exec(std::string_view name, std::string_view sql) {
  ++statements_run_;
  const std::string text(sql);
  check(name, PQexec(conn_, text.c_str()));
}

Result Connection::query(std::string_view name, std::string_view sql, const Params& params) {
  ++statements_run_;
  std::string key(sql);
  auto found = statements_.find(key);
  if (found == statements_.end()) {
    if (statements_.size() >= kMaxPreparedStatements) {
      exec("DEALLOCATE ALL", "DEALLOCATE ALL");
      statements_.clear();
    }
    const std::string statement = "tams_" + std::to_string(next_statement_++);
    check(std::string(name) + " (prepare)",
          PQprepare(conn_, statement.c_str(), key.c_str(), 0, nullptr));
    static auto& durations = obs::Registry::global().histogram(
        "tams_db_query_duration_seconds",
        "Time a named database statement was in use (binds, steps, reading rows).",
        {"endpoint", "query"}, obs::buckets::kQuerySeconds);
    found = statements_
                .emplace(std::move(key),
                         Prepared{statement, &durations.with({address_, std::string(name)})})
                .first;
  }
  std::vector<const char*> values;
  values.reserve(params.values().size());
  for (const auto& value : params.values()) values.push_back(value ? value->c_str() : nullptr);
  const auto started = std::chrono::steady_clock::now();
  pg_result* result =
      PQexecPrepared(conn_, found->second.name.c_str(), static_cast<int>(values.size()),
                     values.data(), nullptr, nullptr, 0);
  found->second.duration->observe(std::chrono::steady_clock::now() - started);
  return check(name, result);
}

int64_t Connection::copy_in(std::string_view name, std::string_view sql, std::string_view data) {
  ++statements_run_;
  const std::string text(sql);
  PGresult* started = PQexec(conn_, text.c_str());
  if (started == nullptr || PQresultStatus(started) != PGRES_COPY_IN) {
    check(name, started);  // throws for an error; anything else is a misuse
    throw std::logic_error(std::string(name) + ": not a COPY FROM STDIN statement");
  }
  PQclear(started);
  // Sent in pieces: libpq buffers each call, and smaller pieces keep that buffer small.
  constexpr size_t kPiece = 1 << 20;
  const char* error = nullptr;
  for (size_t at = 0; at < data.size(); at += kPiece) {
    const size_t n = std::min(kPiece, data.size() - at);
    if (PQputCopyData(conn_, data.data() + at, static_cast<int>(n)) != 1) {
      error = "sending COPY data failed";
      break;
    }
  }
  if (PQputCopyEnd(conn_, error) != 1) {
    broken_ = true;
    throw EndpointFailure(label_ + ": " + std::string(name) + ": " + PQerrorMessage(conn_));
  }
  Result result = check(name, PQgetResult(conn_));
  while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  return result.affected();
}

std::vector<std::string> Connection::wait_for_notifications(std::string_view channel,
                                                            std::chrono::milliseconds timeout) {
  std::vector<std::string> payloads;
  const auto take_received = [&] {
    while (PGnotify* notice = PQnotifies(conn_)) {
      if (channel == notice->relname) payloads.emplace_back(notice->extra);
      PQfreemem(notice);
    }
  };
  const auto lost = [&](std::string_view what) {
    broken_ = true;
    return EndpointFailure("PostgreSQL " + label_ + ": " + std::string(what) + ": " +
                           first_line(PQerrorMessage(conn_)));
  };
  take_received();  // some may have arrived during a query
  if (!payloads.empty()) return payloads;
  pollfd socket{PQsocket(conn_), POLLIN, 0};
  if (socket.fd < 0) throw lost("no socket");
  const int ready = ::poll(&socket, 1, static_cast<int>(timeout.count()));
  if (ready < 0 && errno != EINTR) throw lost("poll failed");
  if (ready > 0) {
    if (PQconsumeInput(conn_) == 0) throw lost("reading notifications failed");
    take_received();
  }
  return payloads;
}

bool Connection::rollback() noexcept {
  if (broken()) return false;
  if (PQtransactionStatus(conn_) == PQTRANS_IDLE) return true;
  PGresult* result = PQexec(conn_, "ROLLBACK");
  const bool ok = result != nullptr && PQresultStatus(result) == PGRES_COMMAND_OK;
  PQclear(result);
  return ok && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

std::string endpoint_address(const std::string& url) {
  std::string host;
  std::string port;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), nullptr);
  if (options != nullptr) {
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (o->val == nullptr) continue;
      const std::string_view keyword = o->keyword;
      if (keyword == "host") host = o->val;
      if (keyword == "port") port = o->val;
    }
    PQconninfoFree(options);
  }
  return (host.empty() ? "localhost" : host) + ":" + (port.empty() ? "5432" : port);
}

std::string redact_url(std::string_view url) {
  std::string out(url);
  // URI form: scheme://user:password@host...
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t authority = scheme + 3;
    const size_t end = out.find_first_of("/?", authority);
    // The last '@' of the authority: an unencoded '@' in the password stays hidden too.
    const size_t at = out.rfind('@', end == std::string::npos ? std::string::npos : end);
    if (at != std::string::npos && at >= authority) {
      const size_t colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... as a URI query parameter or a conninfo keyword.
  for (size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    const size_t start = pos + 9;
    size_t end = out.find_first_of("& ", start);
    if (end == std::string::npos) end = out.size();
    out.replace(start, end - start, "***");
  }
  return out;
}

}  // namespace tams::store::postgres
