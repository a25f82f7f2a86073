// Small POSIX file helpers for the local media store: an owned descriptor, complete writes,
// fsync of files and directories. Errors are std::system_error naming the path.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace tams::media {

// Owns one file descriptor and closes it on destruction. Movable, not copyable.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() { reset(); }
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Gives up ownership: the caller closes the returned descriptor.
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

// Opens `path` with open(2) flags and mode; throws std::system_error on failure.
FileDescriptor open_file(const std::filesystem::path& path, int flags, int mode = 0600);

// Writes all `size` bytes (retrying short writes and EINTR).
void write_all(int fd, const void* data, size_t size, const std::filesystem::path& path);

// fsync(2); throws on failure.
void sync_file(int fd, const std::filesystem::path& path);

// Makes entries created, renamed or removed in `dir` durable.
void sync_directory(const std::filesystem::path& dir);

// Creates `path` with O_EXCL and mode 0600 holding `content`, fsynced. False if it already
// exists (nothing written); throws on any other failure.
bool create_file_exclusive(const std::filesystem::path& path, const std::string& content);

// The whole content of a file of at most `max_size` bytes; nullopt when it does not exist.
// Throws on other errors and on larger files.
std::optional<std::string> read_small_file(const std::filesystem::path& path, size_t max_size);

}  // namespace tams::media
