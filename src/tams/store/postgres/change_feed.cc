#include "tams/store/postgres/change_feed.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

#include "tams/store/postgres/change_notice.h"
#include "tams/store/postgres/connection.h"

namespace tams::store::postgres {

namespace {

constexpr std::string_view kListen = "LISTEN tams_changes";
constexpr std::string_view kPing = "SELECT 1";
constexpr auto kWaitSlice = std::chrono::milliseconds(200);  // how soon a stop is seen

}  // namespace

ChangeFeed::ChangeFeed(std::string url, std::string label, std::string origin,
                       ChangeListener listener)
    : url_(std::move(url)),
      label_(std::move(label)),
      origin_(std::move(origin)),
      listener_(std::move(listener)),
      thread_([this] { run(); }) {}

ChangeFeed::~ChangeFeed() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool ChangeFeed::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return stopping_; });
}

void ChangeFeed::run() {
  bool after_gap = false;  // at the first start nothing can have been cached yet
  bool failing = false;
  while (pause(std::chrono::milliseconds(0))) {
    try {
      listen_once(after_gap);
      return;  // stopped
    } catch (const std::exception &e) {
      listening_ = false;
      if (!failing) {
        spdlog::warn("not listening for other instances' changes on {} ({}); retrying", label_,
                     e.what());
      }
      failing = true;
      after_gap = true;
    }
    if (!pause(kRetryDelay)) return;
  }
}

void ChangeFeed::listen_once(bool after_gap) {
  Connection db(url_, label_);
  static_assert(kListen.ends_with(kChangeChannel));
  db.exec("kListen", kListen);
  listening_ = true;
  if (after_gap) {
    spdlog::info("listening for other instances' changes on {} again", label_);
    listener_(Change{Change::Kind::kEverything, ""});
  }
  auto quiet_since = std::chrono::steady_clock::now();
  while (pause(std::chrono::milliseconds(0))) {
    const std::vector<std::string> payloads = db.wait_for_notifications(kChangeChannel, kWaitSlice);
    const auto now = std::chrono::steady_clock::now();
    if (payloads.empty()) {
      if (now - quiet_since >= kPingInterval) {
        db.query("kPing", kPing);  // throws when the server is gone
        quiet_since = now;
      }
      continue;
    }
    quiet_since = now;
    for (const std::string &payload : payloads) {
      const Notice notice = decode_notice(payload);
      if (notice.origin == origin_) continue;
      for (const Change &change : notice.changes) listener_(change);
    }
  }
  listening_ = false;
}

}  // namespace tams::store::postgres
