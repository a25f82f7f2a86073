#include "tams/core/job_lease.h"

#include <unistd.h>

#include <climits>

#include "tams/core/ids.h"

namespace tams::core {

store::LeaseClaim JobLease::claim(int64_t limit) const {
  const int64_t now = unix_now_ms();
  return store::LeaseClaim{owner, now, now + duration.count(), limit};
}

int64_t JobLease::until_from_now() const { return unix_now_ms() + duration.count(); }

std::string new_lease_owner() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] != '\0' ? host : "unknown-host") + "/" +
         std::to_string(static_cast<long>(getpid())) + "/" + new_id();
}

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace tams::core
