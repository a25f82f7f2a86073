#include "tams/core/health.h"

#include <exception>

namespace tams::core {

std::vector<Health::Problem> Health::not_ready() const {
  std::vector<Problem> problems;
  try {
    // One indexed read in a read transaction: the database opens, locks and answers.
    store_.read([](store::Reader& r) { r.get_setting("name"); });
  } catch (const std::exception& e) {
    problems.push_back({"database", e.what()});
  }
  const media::MediaStore* storage = backends_.default_store();
  if (storage == nullptr) {
    problems.push_back({"storage", "no default storage backend is configured"});
  } else if (auto reason = storage->unreachable()) {
    problems.push_back({"storage " + storage->backend().id, *reason});
  }
  return problems;
}

}  // namespace tams::core
