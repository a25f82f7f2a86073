// SqliteStore: the embedded MetadataStore, one SQLite database file in WAL mode.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tams/store/metadata_store.h"

namespace tams::store::sqlite {

class Connection;

// One fixed SQL statement of the store and the name of its constant.
struct NamedSql {
  std::string_view name;
  std::string_view sql;
};
// The store's fixed statements on segments, objects and deletion requests (the timeline's hot
// paths), for tests that check their query plans. Listings assembled from fragments are not
// included.
std::span<const NamedSql> timeline_statements();

struct SqliteOptions {
  // synchronous=FULL: a transaction that committed survives a crash or power loss. NORMAL may
  // lose the last commits on power loss (never corrupts); it is faster.
  bool synchronous_full = true;
  // How long a connection waits for a lock held by another process before failing.
  int busy_timeout_ms = 5000;
};

// MetadataStore over one SQLite database file.
//
// Writes go through a single writer connection, one write() at a time (BEGIN IMMEDIATE ...
// COMMIT). Reads use a pool of read-only connections, each read() inside one read transaction,
// so it sees one consistent snapshot and never waits for the writer (WAL). The pool grows to
// the number of concurrent readers; idle connections are kept for reuse.
//
// Thread-safe: any number of threads may call read() and write() concurrently without external
// synchronization. Not copyable.
class SqliteStore final : public MetadataStore {
 public:
  // Opens the database at `path` (created when missing; its directory must exist), switches it
  // to WAL and applies pending migrations. Throws std::runtime_error naming the path and the
  // reason when the file cannot be opened or is not a database, when it has a newer schema than
  // this build knows, or when a migration fails. ":memory:" and "" are refused: readers need a
  // file they can share.
  static std::unique_ptr<SqliteStore> open(const std::string& path,
                                           const SqliteOptions& options = {});

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override;

  // See MetadataStore. Both throw std::runtime_error when SQLite fails; read() and write() also
  // propagate exceptions thrown by `fn`. A write() from inside a write() on the same thread would
  // deadlock and throws std::logic_error instead.
  void read(const std::function<void(Reader&)>& fn) override;
  void write(const std::function<void(WriteTransaction&)>& fn) override;
  // See MetadataStore. The listener runs while the write lock is still held, so it must be
  // quick and must not write (a nudge).
  void set_event_listener(std::function<void()> listener) override;

  // See MetadataStore. Connections: readers inside read() ("reader" in_use), readers waiting
  // idle in the pool ("reader" idle), the writer inside write() ("writer" in_use, 0 or 1).
  std::vector<PoolConnections> pool_usage() const override;
  // Throws std::runtime_error when SQLite fails.
  StoredCounts stored_counts() override;
  // Ready when a read transaction opens, locks and answers one indexed read.
  std::optional<std::string> not_ready() override;

 private:
  SqliteStore(std::string path, const SqliteOptions& options);

  std::unique_ptr<Connection> acquire_reader();
  void release_reader(std::unique_ptr<Connection> reader);

  // Idle readers kept beyond this many are closed on release.
  static constexpr size_t kMaxIdleReaders = 32;

  const std::string path_;
  const SqliteOptions options_;

  std::mutex write_mutex_;
  std::unique_ptr<Connection> writer_;           // guarded by write_mutex_
  std::atomic<std::thread::id> writing_thread_;  // the thread inside write(), to refuse re-entry

  std::function<void()> event_listener_;  // set before concurrent use

  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;  // guarded by readers_mutex_
  std::atomic<int64_t> readers_in_use_{0};
  std::atomic<int64_t> idle_count_{0};  // idle_readers_.size(), readable without the lock
  std::atomic<int64_t> writer_busy_{0};
};

}  // namespace tams::store::sqlite
