#include "tams/core/health.h"

namespace tams::core {

std::vector<Health::Problem> Health::not_ready() const {
  std::vector<Problem> problems;
  if (auto reason = store_.not_ready()) problems.push_back({"database", *reason});
  const media::MediaStore* storage = backends_.default_store();
  if (storage == nullptr) {
    problems.push_back({"storage", "no default storage backend is configured"});
  } else if (auto reason = storage->unreachable()) {
    problems.push_back({"storage " + storage->backend().id, *reason});
  }
  return problems;
}

}  // namespace tams::core
