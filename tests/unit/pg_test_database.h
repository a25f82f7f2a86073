// PgTestDatabase: a fresh database on the PostgreSQL server named by TAMS_TEST_PG_URL for one
// test, dropped afterwards (make test-pg starts such a server).
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "tams/store/postgres/connection.h"

namespace tams::test {

class PgTestDatabase {
 public:
  // The server's URL; empty when TAMS_TEST_PG_URL is not set (the test should skip).
  static std::string server() {
    const char* value = std::getenv("TAMS_TEST_PG_URL");
    return value != nullptr ? value : "";
  }

  // `base` naming `database` instead of its own database.
  static std::string with_database(const std::string& base, const std::string& database) {
    const size_t authority = base.find("://") + 3;
    const size_t slash = base.find('/', authority);
    const size_t query = base.find('?', authority);
    std::string out = base.substr(0, slash == std::string::npos ? query : slash) + "/" + database;
    if (query != std::string::npos) out += base.substr(query);
    return out;
  }

  // Creates the database (dropping a leftover of the same name). Requires server() non-empty.
  PgTestDatabase() : base_(server()) {
    static std::atomic<int> counter{0};
    name_ = "tams_unit_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    store::postgres::Connection admin(base_, "admin");
    admin.exec("drop", "DROP DATABASE IF EXISTS " + name_);
    admin.exec("create", "CREATE DATABASE " + name_);
    url_ = with_database(base_, name_);
  }
  // Drops the database; stores on it must be closed first.
  ~PgTestDatabase() {
    try {
      store::postgres::Connection admin(base_, "admin");
      admin.exec("drop", "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
    }
  }
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string base_;
  std::string name_;
  std::string url_;
};

}  // namespace tams::test
