// ChangeFeed: the thread by which a PostgresStore learns what other tams
// instances on its database committed (LISTEN on change_notice.h's channel).
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "tams/store/change.h"

namespace tams::store::postgres {

// Listens with a connection of its own to `url` (the primary: notifications are
// not sent by replicas) and calls `listener` with every change of every notice
// whose origin is not `origin` (an instance's own writes are its own business),
// in the order they were committed. When the connection fails it reconnects
// (after kRetryDelay, repeatedly), and once listening again calls `listener`
// with one kEverything: notices sent meanwhile are lost. A connection that
// stays silent is checked every kPingInterval, so a primary that vanished
// without closing it is noticed too. Not copyable; the destructor stops the
// thread (waiting for a listener call that is running).
class ChangeFeed {
 public:
  static constexpr auto kRetryDelay = std::chrono::milliseconds(500);
  static constexpr auto kPingInterval = std::chrono::seconds(2);

  ChangeFeed(std::string url, std::string label, std::string origin, ChangeListener listener);
  ChangeFeed(const ChangeFeed &) = delete;
  ChangeFeed &operator=(const ChangeFeed &) = delete;
  ~ChangeFeed();

  // True while LISTEN is in effect (for tests and diagnostics).
  bool listening() const { return listening_.load(); }

 private:
  void run();
  // Listens until stopped or the connection fails (throws).
  void listen_once(bool after_gap);
  // Sleeps `delay` unless stopped meanwhile; false when stopped.
  bool pause(std::chrono::milliseconds delay);

  const std::string url_;
  const std::string label_;
  const std::string origin_;
  const ChangeListener listener_;
  std::atomic<bool> listening_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace tams::store::postgres
