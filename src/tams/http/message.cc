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

const char* method_name(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      break;
  }
  return "?";
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
