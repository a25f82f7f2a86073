// LocalMediaStore: the embedded default storage backend. Object bytes are files under
// DATA_DIR/media; tams itself accepts uploads and serves downloads at URLs signed with a
// per-store secret (api/media_api.cc), so no other server is needed.
//
// Layout under DATA_DIR/media:
//   secret               32 random bytes (mode 0600): the HMAC-SHA256 key of the URLs
//   backend-id           the backend's stable UUID
//   tmp/                 uploads in progress (deleted when abandoned)
//   objects/<aa>/<h>.json         the object's record {object_id, size, content_type, etag, file}
//   objects/<aa>/<h>.<generation> the object's bytes, named by the record
// where <h> is the hex SHA-256 of the object id and <aa> its first two digits. File names never
// contain the id itself, so no id (whatever '/', "..", NUL or encoding it holds) can name a path
// outside objects/.
//
// An upload streams to tmp/ while its SHA-256 is computed; commit fsyncs the bytes, moves them to
// a fresh generation file (invisible: no record names it yet), then renames the new record over
// the old one. That rename is the commit point, so a reader sees either the old object or the
// new one, never a half-written one, and a crash at any moment leaves at worst an unreferenced
// file.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tams/media/hmac_sha256.h"
#include "tams/media/media_store.h"
#include "tams/media/posix_file.h"

namespace tams::media {

struct LocalMediaOptions {
  int64_t url_expiry_seconds = 3600;                      // lifetime of put_url/get_url URLs
  uint64_t max_object_bytes = 4ULL * 1024 * 1024 * 1024;  // larger uploads are refused
  std::string label = "local";                            // the backend's label
};

// What the store records about one object.
struct LocalObjectInfo {
  std::string object_id;
  uint64_t size = 0;
  std::string content_type;
  std::string etag;  // strong entity tag, quoted: "\"<32 hex digits of SHA-256>\""
};

// An object opened for reading: its record and a descriptor on exactly those bytes (a later
// overwrite or removal does not change what the descriptor reads).
struct OpenObject {
  LocalObjectInfo info;
  FileDescriptor file;
};

class LocalMediaStore;

// An upload in progress: a temporary file under media/tmp plus the running digest of what was
// written. Destroying an upload that was not committed deletes its temporary file. Used by one
// thread at a time; movable, not copyable.
class LocalUpload {
 public:
  LocalUpload(LocalUpload&&) noexcept;
  LocalUpload& operator=(LocalUpload&&) noexcept;
  ~LocalUpload();

  const std::string& object_id() const { return object_id_; }
  uint64_t size() const { return size_; }
  // Appends bytes. Throws std::system_error on an I/O error and std::length_error beyond the
  // store's max_object_bytes.
  void write(const void* data, size_t size);

 private:
  friend class LocalMediaStore;
  struct Digest;
  LocalUpload(std::string object_id, std::filesystem::path temp_path, FileDescriptor file,
              uint64_t max_bytes);

  std::string object_id_;
  std::filesystem::path temp_path_;  // empty once committed or moved from
  FileDescriptor file_;
  uint64_t max_bytes_ = 0;
  uint64_t size_ = 0;
  uint64_t written_back_ = 0;  // bytes handed to writeback so far
  std::unique_ptr<Digest> digest_;
};

// Thread-safe: any number of uploads, commits, reads and removals may run concurrently.
// Only one LocalMediaStore (one process) may serve a data dir at a time.
class LocalMediaStore : public MediaStore {
 public:
  // Opens the store under `data_dir`, creating media/, its secret and backend id on first use.
  // Deletes temporary files of uploads abandoned for over an hour. Throws std::runtime_error
  // (std::system_error for I/O) naming the file on failure, e.g. an unreadable or corrupt secret.
  static std::unique_ptr<LocalMediaStore> open(const std::string& data_dir,
                                               LocalMediaOptions options = {});

  const StorageBackend& backend() const override { return backend_; }
  const LocalMediaOptions& options() const { return options_; }
  // Whether this backend is the default one (it is unless configured otherwise). Call before
  // the store is shared between threads.
  void set_default_storage(bool is_default) { backend_.default_storage = is_default; }

  // {base_url}/media/{id}?method=PUT&expires=...&signature=... (resp. method=GET), valid for
  // options().url_expiry_seconds from now. The id is percent-encoded, '/' as %2F.
  std::string put_url(const std::string& base_url, const std::string& object_id) const override;
  std::string get_url(const std::string& base_url, const std::string& object_id) const override;
  // The objects directory is missing, not a directory, or not writable.
  std::optional<std::string> unreachable() const override;
  // The same URL with an explicit method ("PUT" or "GET") and expiry (unix seconds).
  std::string signed_url(const std::string& base_url, std::string_view method,
                         std::string_view object_id, int64_t expires) const;

  // Hex HMAC-SHA256(secret, method + "\n" + object_id + "\n" + expires).
  std::string signature(std::string_view method, std::string_view object_id, int64_t expires) const;
  // True when `signature` is the signature of (method, object_id, expires) and `expires` (the
  // decimal text from the URL) is not before `now` (unix seconds). Compares in constant time.
  bool verify(std::string_view method, std::string_view object_id, std::string_view expires,
              std::string_view signature, int64_t now) const;

  // True when a committed object with this id exists.
  bool exists(const std::string& object_id) const override;
  // Deletes the object's record and bytes; no error when absent. Throws std::system_error.
  void remove(const std::string& object_id) override;

  // Starts an upload for `object_id` (a new temporary file). Throws std::system_error.
  LocalUpload begin_upload(const std::string& object_id) const;
  // Makes the upload's bytes the object's content, durably and atomically, with the given
  // content type. Returns the new record and whether it replaced an existing object.
  // Throws std::system_error; the object is then unchanged.
  struct CommitResult {
    LocalObjectInfo info;
    bool replaced = false;
  };
  CommitResult commit(LocalUpload upload, const std::string& content_type);

  // The object's record and bytes, or nullopt when it does not exist.
  // Throws std::system_error on I/O errors or a corrupt record.
  std::optional<OpenObject> open_object(const std::string& object_id) const;

  // Where the object's record lives: objects/<aa>/<sha256hex(id)>.json. The bytes are beside
  // it. Exposed for tests of the path mapping.
  std::filesystem::path record_path(std::string_view object_id) const;
  const std::filesystem::path& objects_dir() const { return objects_dir_; }
  const std::filesystem::path& temp_dir() const { return temp_dir_; }

  LocalMediaStore(const LocalMediaStore&) = delete;
  LocalMediaStore& operator=(const LocalMediaStore&) = delete;

 private:
  LocalMediaStore(std::filesystem::path media_dir, std::string secret, StorageBackend backend,
                  LocalMediaOptions options);

  std::filesystem::path media_dir_;
  std::filesystem::path objects_dir_;
  std::filesystem::path temp_dir_;
  HmacSha256 hmac_;
  StorageBackend backend_;
  LocalMediaOptions options_;
};

}  // namespace tams::media
