// The notifications by which tams instances on one PostgreSQL database tell
// each other what their write transactions changed: one
// `pg_notify(kChangeChannel, payload)` per transaction that changed anything,
// sent inside it (so it is delivered iff the transaction commits, after the
// commit), listened to by every instance's ChangeFeed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "tams/store/change.h"

namespace tams::store::postgres {

inline constexpr std::string_view kChangeChannel = "tams_changes";
// PostgreSQL refuses payloads of 8000 bytes or more; this leaves room for the
// origin.
inline constexpr size_t kMaxChangeBytes = 7800;

// The changes of one write transaction, each once, in the order first made.
// When their payload would exceed kMaxChangeBytes they collapse into one
// kEverything (a bulk write tells the others to drop everything rather than
// list thousands of ids). Not thread-safe.
class ChangeSet {
 public:
  void add(Change change);
  bool empty() const { return changes_.empty(); }
  const std::vector<Change> &changes() const { return changes_; }

 private:
  std::vector<Change> changes_;
  std::unordered_set<std::string> seen_;  // kind + id of each change in changes_
  size_t bytes_ = 0;                      // encoded size of changes_
};

// A notification's payload: "<origin> <kind><id> <kind><id> ...", origin being
// the sending instance's id (no spaces) and ids TAMS uuids (never spaces).
std::string encode_notice(std::string_view origin, const ChangeSet &changes);

struct Notice {
  std::string origin;
  std::vector<Change> changes;
};
// The notice a payload carries. A payload that cannot be read whole (another
// version, a stranger on the channel) decodes as one kEverything with an empty
// origin: dropping everything is always safe.
Notice decode_notice(std::string_view payload);

}  // namespace tams::store::postgres
