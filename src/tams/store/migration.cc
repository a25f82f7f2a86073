#include "tams/store/migration.h"

#include <stdexcept>

namespace tams::store {

int64_t recorded_version(std::span<const Migration> known,
                         const std::vector<std::pair<int64_t, std::string>>& recorded) {
  int64_t current = 0;
  for (const auto& [version, name] : recorded) {
    if (version > static_cast<int64_t>(known.size())) {
      throw std::runtime_error("the database has schema version " + std::to_string(version) +
                               ", newer than this build knows (" + std::to_string(known.size()) +
                               "); use a newer tams");
    }
    if (version < 1 || known[version - 1].name != name) {
      throw std::runtime_error("the database records migration " + std::to_string(version) +
                               " as '" + name + "', which this build does not know");
    }
    current = version;
  }
  return current;
}

}  // namespace tams::store
