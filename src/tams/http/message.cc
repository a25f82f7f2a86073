#include "tams/http/message.h"

#include <unistd.h>

namespace tams::http {

std::optional<std::string_view> Request::param(std::string_view name) const {
  std::optional<std::string_view> found;
  for (const auto& p : query_params) {
    if (p.name == name) found = p.value;
  }
  return found;
}

FileBody FileBody::adopt(int fd, uint64_t offset, uint64_t length) {
  FileBody body;
  body.fd = std::shared_ptr<const int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
  body.offset = offset;
  body.length = length;
  return body;
}

}  // namespace tams::http
