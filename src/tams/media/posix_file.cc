#include "tams/media/posix_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace tams::media {

namespace {

[[noreturn]] void fail(const char* operation, const std::filesystem::path& path, int error) {
  throw std::system_error(error, std::generic_category(),
                          std::string(operation) + " " + path.string());
}

}  // namespace

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

void FileDescriptor::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

FileDescriptor open_file(const std::filesystem::path& path, int flags, int mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) fail("open", path, errno);
  return FileDescriptor(fd);
}

void write_all(int fd, const void* data, size_t size, const std::filesystem::path& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", path, errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void sync_file(int fd, const std::filesystem::path& path) {
  if (::fsync(fd) != 0) fail("fsync", path, errno);
}

void sync_directory(const std::filesystem::path& dir) {
  FileDescriptor fd = open_file(dir, O_RDONLY | O_DIRECTORY);
  sync_file(fd.get(), dir);
}

bool create_file_exclusive(const std::filesystem::path& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    fail("create", path, errno);
  }
  FileDescriptor owned(fd);
  write_all(fd, content.data(), content.size(), path);
  sync_file(fd, path);
  return true;
}

std::optional<std::string> read_small_file(const std::filesystem::path& path, size_t max_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail("open", path, errno);
  }
  FileDescriptor owned(fd);
  std::string content;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("read", path, errno);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > max_size) fail("read (file too large)", path, EFBIG);
  }
  return content;
}

}  // namespace tams::media
