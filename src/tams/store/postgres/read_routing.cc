#include "tams/store/postgres/read_routing.h"

#include <algorithm>

namespace tams::store::postgres {

std::vector<int> read_order(bool primary_up, std::span<const ReplicaState> replicas,
                            int64_t max_lag_ms, bool pinned, size_t rotation) {
  std::vector<int> order;
  if (pinned && primary_up) order.push_back(kPrimary);
  const size_t n = replicas.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (rotation + i) % n;
    const ReplicaState& replica = replicas[index];
    const bool fresh = !primary_up || (replica.lag_ms >= 0 && replica.lag_ms <= max_lag_ms);
    if (replica.up && replica.in_recovery && fresh) order.push_back(static_cast<int>(index));
  }
  if (!(pinned && primary_up)) order.push_back(kPrimary);
  // Last resorts: the health check may be behind, and a stale read beats an error.
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (rotation + i) % n;
    if (!replicas[index].promoted &&
        std::find(order.begin(), order.end(), static_cast<int>(index)) == order.end()) {
      order.push_back(static_cast<int>(index));
    }
  }
  return order;
}

int64_t replay_lag_ms(int64_t replay_lsn, std::span<const WalSample> primary_samples,
                      int64_t now_ms, int64_t time_lag_ms) {
  if (replay_lsn < 0) return time_lag_ms;
  for (size_t i = primary_samples.size(); i-- > 0;) {
    if (primary_samples[i].lsn <= replay_lsn) {
      return i + 1 == primary_samples.size() ? 0 : now_ms - primary_samples[i + 1].at_ms;
    }
  }
  return time_lag_ms;
}

}  // namespace tams::store::postgres
