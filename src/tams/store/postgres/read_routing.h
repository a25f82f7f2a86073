// Which database endpoints a read() tries, in order. Pure functions, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tams::store::postgres {

// What the health check last saw of a read replica.
struct ReplicaState {
  bool up = false;           // answered the last check and nothing failed since
  bool in_recovery = false;  // seen to be a standby
  bool promoted = false;     // seen out of recovery: it may have diverged, never read from
  int64_t lag_ms = -1;       // estimated replay lag; -1 unknown
};

// The primary's place in a read order.
inline constexpr int kPrimary = -1;

// The endpoints a read tries, best first: kPrimary or an index into `replicas`.
// - A replica is eligible when it is up, in recovery, and its lag is known and at most
//   `max_lag_ms`; while the primary is down, lag is not checked (nothing newer exists anywhere
//   that could be read, and stale reads beat none).
// - Eligible replicas come first, rotated by `rotation` (round-robin), then the primary; when
//   `pinned` (read-your-writes: this instance wrote recently) and the primary is up, the primary
//   comes first and the replicas follow as the fallback.
// - A primary that is down still comes after them, and the replicas that are not eligible come
//   last (the health check may be behind; a stale read beats an error), except promoted ones.
//   The order is never empty.
std::vector<int> read_order(bool primary_up, std::span<const ReplicaState> replicas,
                            int64_t max_lag_ms, bool pinned, size_t rotation);

// A sample of the primary's WAL position: `lsn` (bytes) at `at_ms` (a steady clock, ms).
struct WalSample {
  int64_t lsn = 0;
  int64_t at_ms = 0;
};

// A replica's replay lag in ms from its replayed WAL position and the primary's recent positions
// (oldest first, the newest taken just before the replica was asked): 0 when it has replayed the
// newest sample, else the age of the oldest sample it has not replayed (the primary had written
// that then, the replica still lacks it). When it has replayed none of the samples,
// `time_lag_ms` (now - pg_last_xact_replay_timestamp(), -1 unknown) is the answer. Comparing
// positions first keeps an idle primary, which writes no WAL, from making a caught-up replica
// look ever further behind by the time of its last replayed transaction.
int64_t replay_lag_ms(int64_t replay_lsn, std::span<const WalSample> primary_samples,
                      int64_t now_ms, int64_t time_lag_ms);

}  // namespace tams::store::postgres
