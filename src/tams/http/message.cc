#include "tams/http/message.h"

namespace tams::http {

std::optional<std::string_view> Request::param(std::string_view name) const {
  std::optional<std::string_view> found;
  for (const auto& p : query_params) {
    if (p.name == name) found = p.value;
  }
  return found;
}

}  // namespace tams::http
