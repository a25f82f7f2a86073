#include "tams/media/local_media_store.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace tams::media {

namespace fs = std::filesystem;

namespace {

constexpr size_t kSecretBytes = 32;
constexpr size_t kMaxRecordBytes = 1 << 20;
// Temporary files untouched for this long belong to uploads that died with their connection
// (or with the process); open() deletes them.
constexpr auto kAbandonedUploadAge = std::chrono::hours(1);
constexpr uint64_t kWritebackBytes = 8 << 20;

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("OpenSSL: RAND_bytes failed");
  }
  return out;
}

std::string random_hex(size_t n) {
  const std::string bytes = random_bytes(n);
  return to_hex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::string new_uuid_v4() {
  std::string b = random_bytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  const std::string h = to_hex(reinterpret_cast<const uint8_t*>(b.data()), b.size());
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// RFC 3986 unreserved characters pass; everything else (including '/') is %XX. An id that is
// exactly "." or ".." would be a dot-segment that clients remove, so its dots are escaped too.
std::string encode_object_id(std::string_view id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const bool dot_segment = id == "." || id == "..";
  std::string out;
  out.reserve(id.size() * 3);
  for (unsigned char c : id) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '~' ||
                            (c == '.' && !dot_segment);
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0f];
    }
  }
  return out;
}

std::string signing_message(std::string_view method, std::string_view object_id,
                            std::string_view expires) {
  std::string message;
  message.reserve(method.size() + object_id.size() + expires.size() + 2);
  message.append(method).append("\n").append(object_id).append("\n").append(expires);
  return message;
}

// Canonical decimal (no sign, no leading zero) that fits comfortably in int64.
std::optional<int64_t> parse_expires(std::string_view text) {
  if (text.empty() || text.size() > 18 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Record locks, striped by the id's hash: commits and removals of one object are serialised so
// that each unlinks exactly the bytes file its new record replaced.
std::mutex& record_lock(std::string_view hash) {
  static std::array<std::mutex, 64> locks;
  return locks[std::stoul(std::string(hash.substr(0, 2)), nullptr, 16) % locks.size()];
}

struct Record {
  LocalObjectInfo info;
  std::string file;  // name of the bytes file, beside the record
};

std::string serialize_record(const Record& r) {
  boost::json::object o;
  o["object_id"] = r.info.object_id;
  o["size"] = r.info.size;
  o["content_type"] = r.info.content_type;
  o["etag"] = r.info.etag;
  o["file"] = r.file;
  return boost::json::serialize(o);
}

// Parses a record read from `path`; `hash` is the hash its name says, which the bytes file's
// name must repeat (a record never names a file elsewhere).
Record parse_record(const std::string& text, const fs::path& path, std::string_view hash) {
  auto corrupt = [&](const char* what) -> std::runtime_error {
    return std::runtime_error("corrupt media record " + path.string() + ": " + what);
  };
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) throw corrupt("not a JSON object");
  const auto& o = v.as_object();
  auto str = [&](const char* key) -> std::string {
    const auto* p = o.if_contains(key);
    if (!p || !p->is_string()) throw corrupt(key);
    return std::string(p->as_string());
  };
  Record r;
  r.info.object_id = str("object_id");
  r.info.content_type = str("content_type");
  r.info.etag = str("etag");
  r.file = str("file");
  const auto* size = o.if_contains("size");
  if (!size || !(size->is_uint64() || size->is_int64()) ||
      (size->is_int64() && size->as_int64() < 0)) {
    throw corrupt("size");
  }
  r.info.size = size->is_uint64() ? size->as_uint64() : static_cast<uint64_t>(size->as_int64());
  if (r.file.size() != hash.size() + 17 || !r.file.starts_with(hash) ||
      r.file[hash.size()] != '.' || r.file.find('/') != std::string::npos) {
    throw corrupt("file");
  }
  return r;
}

std::optional<Record> read_record(const fs::path& path, std::string_view hash) {
  auto text = read_small_file(path, kMaxRecordBytes);
  if (!text) return std::nullopt;
  return parse_record(*text, path, hash);
}

void remove_file(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw std::system_error(errno, std::generic_category(), "unlink " + path.string());
  }
}

void sweep_abandoned_uploads(const fs::path& temp_dir) {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(temp_dir, ec)) {
    std::error_code ignored;
    const auto modified = entry.last_write_time(ignored);
    if (!ignored && now - modified > kAbandonedUploadAge) fs::remove(entry.path(), ignored);
  }
}

// Reads the file, or creates it with `make()` when missing (O_EXCL: a concurrent creator wins).
std::string read_or_create(const fs::path& path, const std::function<std::string()>& make,
                           size_t max_size) {
  if (auto existing = read_small_file(path, max_size)) return *existing;
  const std::string fresh = make();
  if (create_file_exclusive(path, fresh)) {
    sync_directory(path.parent_path());
    return fresh;
  }
  if (auto existing = read_small_file(path, max_size)) return *existing;
  throw std::runtime_error("cannot create " + path.string());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// LocalUpload

struct LocalUpload::Digest {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Digest() {
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx);
      throw std::runtime_error("OpenSSL: cannot start SHA-256");
    }
  }
  ~Digest() { EVP_MD_CTX_free(ctx); }
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
};

LocalUpload::LocalUpload(std::string object_id, fs::path temp_path, FileDescriptor file,
                         uint64_t max_bytes)
    : object_id_(std::move(object_id)),
      temp_path_(std::move(temp_path)),
      file_(std::move(file)),
      max_bytes_(max_bytes),
      digest_(std::make_unique<Digest>()) {}

LocalUpload::LocalUpload(LocalUpload&& other) noexcept
    : object_id_(std::move(other.object_id_)),
      temp_path_(std::exchange(other.temp_path_, {})),
      file_(std::move(other.file_)),
      max_bytes_(other.max_bytes_),
      size_(other.size_),
      written_back_(other.written_back_),
      digest_(std::move(other.digest_)) {}

LocalUpload& LocalUpload::operator=(LocalUpload&& other) noexcept {
  if (this != &other) {
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
    object_id_ = std::move(other.object_id_);
    temp_path_ = std::exchange(other.temp_path_, {});
    file_ = std::move(other.file_);
    max_bytes_ = other.max_bytes_;
    size_ = other.size_;
    written_back_ = other.written_back_;
    digest_ = std::move(other.digest_);
  }
  return *this;
}

LocalUpload::~LocalUpload() {
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void LocalUpload::write(const void* data, size_t size) {
  if (size > max_bytes_ - size_) {
    throw std::length_error("object larger than " + std::to_string(max_bytes_) + " bytes");
  }
  write_all(file_.get(), data, size, temp_path_);
  if (EVP_DigestUpdate(digest_->ctx, data, size) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 update failed");
  }
  size_ += size;
  // Start writing back what arrived so far (without waiting for it), so that the fsync at commit
  // has little left to do and a large upload does not pile up dirty pages.
  if (size_ - written_back_ >= kWritebackBytes) {
    ::sync_file_range(file_.get(), static_cast<off_t>(written_back_),
                      static_cast<off_t>(size_ - written_back_), SYNC_FILE_RANGE_WRITE);
    written_back_ = size_;
  }
}

// ---------------------------------------------------------------------------------------------
// LocalMediaStore

LocalMediaStore::LocalMediaStore(fs::path media_dir, std::string secret, StorageBackend backend,
                                 LocalMediaOptions options)
    : media_dir_(std::move(media_dir)),
      objects_dir_(media_dir_ / "objects"),
      temp_dir_(media_dir_ / "tmp"),
      hmac_(secret),
      backend_(std::move(backend)),
      options_(std::move(options)) {}

std::unique_ptr<LocalMediaStore> LocalMediaStore::open(const std::string& data_dir,
                                                       LocalMediaOptions options) {
  const fs::path media_dir = fs::path(data_dir) / "media";
  for (const fs::path& dir : {media_dir, media_dir / "objects", media_dir / "tmp"}) {
    std::error_code ec;
    if (fs::create_directories(dir, ec)) sync_directory(dir.parent_path());
    if (ec) throw std::system_error(ec, "create " + dir.string());
  }
  const fs::path secret_path = media_dir / "secret";
  const std::string secret = read_or_create(
      secret_path, [] { return random_bytes(kSecretBytes); }, 1024);
  if (secret.size() != kSecretBytes) {
    throw std::runtime_error(secret_path.string() + ": expected " + std::to_string(kSecretBytes) +
                             " bytes, found " + std::to_string(secret.size()));
  }
  const fs::path id_path = media_dir / "backend-id";
  std::string id = read_or_create(
      id_path, [] { return new_uuid_v4() + "\n"; }, 1024);
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
  if (!is_uuid(id)) throw std::runtime_error(id_path.string() + ": not a lowercase UUID");
  sweep_abandoned_uploads(media_dir / "tmp");

  StorageBackend backend;
  backend.id = id;
  backend.store_type = "http_object_store";
  backend.provider = "tams";
  backend.store_product = "tams local media store";
  backend.label = options.label;
  backend.default_storage = true;
  return std::unique_ptr<LocalMediaStore>(
      new LocalMediaStore(media_dir, secret, std::move(backend), std::move(options)));
}

std::string LocalMediaStore::signature(std::string_view method, std::string_view object_id,
                                       int64_t expires) const {
  return hmac_.hex(signing_message(method, object_id, std::to_string(expires)));
}

bool LocalMediaStore::verify(std::string_view method, std::string_view object_id,
                             std::string_view expires, std::string_view signature,
                             int64_t now) const {
  if (method != "PUT" && method != "GET") return false;
  const auto expiry = parse_expires(expires);
  if (!expiry || *expiry < now) return false;
  const std::string expected = hmac_.hex(signing_message(method, object_id, expires));
  return signature.size() == expected.size() &&
         CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
}

std::string LocalMediaStore::signed_url(const std::string& base_url, std::string_view method,
                                        std::string_view object_id, int64_t expires) const {
  std::string url = base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/media/";
  url += encode_object_id(object_id);
  url += "?method=";
  url += method;
  url += "&expires=";
  url += std::to_string(expires);
  url += "&signature=";
  url += signature(method, object_id, expires);
  return url;
}

std::string LocalMediaStore::put_url(const std::string& base_url,
                                     const std::string& object_id) const {
  count_signed_url(SignedMethod::kPut);
  return signed_url(base_url, "PUT", object_id, unix_now() + options_.url_expiry_seconds);
}

std::string LocalMediaStore::get_url(const std::string& base_url,
                                     const std::string& object_id) const {
  count_signed_url(SignedMethod::kGet);
  return signed_url(base_url, "GET", object_id, unix_now() + options_.url_expiry_seconds);
}

std::optional<std::string> LocalMediaStore::unreachable() const {
  for (const fs::path* dir : {&objects_dir_, &temp_dir_}) {
    struct stat st {};
    if (::stat(dir->c_str(), &st) != 0) return "directory " + dir->string() + " is missing";
    if (!S_ISDIR(st.st_mode)) return dir->string() + " is not a directory";
    if (::access(dir->c_str(), W_OK | X_OK) != 0) {
      return "directory " + dir->string() + " is not writable";
    }
  }
  return std::nullopt;
}

fs::path LocalMediaStore::record_path(std::string_view object_id) const {
  const std::string hash = sha256_hex(object_id);
  return objects_dir_ / hash.substr(0, 2) / (hash + ".json");
}

bool LocalMediaStore::exists(const std::string& object_id) const {
  struct stat st;
  return ::stat(record_path(object_id).c_str(), &st) == 0;
}

void LocalMediaStore::remove(const std::string& object_id) {
  const fs::path path = record_path(object_id);
  const std::string hash = path.stem().string();
  std::lock_guard lock(record_lock(hash));
  std::optional<Record> record;
  try {
    record = read_record(path, hash);
  } catch (const std::runtime_error&) {
    // A corrupt record is removed all the same; its bytes file (if any) stays as garbage.
    remove_file(path);
    sync_directory(path.parent_path());
    return;
  }
  if (!record) return;
  // Record first: from then on the object does not exist, whatever happens to the bytes.
  remove_file(path);
  remove_file(path.parent_path() / record->file);
  sync_directory(path.parent_path());
}

LocalUpload LocalMediaStore::begin_upload(const std::string& object_id) const {
  const fs::path temp = temp_dir_ / (random_hex(16) + ".upload");
  FileDescriptor fd = open_file(temp, O_WRONLY | O_CREAT | O_EXCL, 0600);
  return LocalUpload(object_id, temp, std::move(fd), options_.max_object_bytes);
}

LocalMediaStore::CommitResult LocalMediaStore::commit(LocalUpload upload,
                                                      const std::string& content_type) {
  if (upload.temp_path_.empty()) throw std::logic_error("commit of a moved-from upload");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (EVP_DigestFinal_ex(upload.digest_->ctx, digest, &digest_length) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 final failed");
  }
  sync_file(upload.file_.get(), upload.temp_path_);
  upload.file_.reset();

  const fs::path path = record_path(upload.object_id_);
  const fs::path dir = path.parent_path();
  const std::string hash = path.stem().string();
  std::error_code ec;
  if (fs::create_directory(dir, ec)) sync_directory(objects_dir_);
  if (ec) throw std::system_error(ec, "create " + dir.string());

  Record record;
  record.info.object_id = upload.object_id_;
  record.info.size = upload.size_;
  record.info.content_type = content_type;
  record.info.etag = "\"" + to_hex(digest, digest_length).substr(0, 32) + "\"";
  record.file = hash + "." + random_hex(8);

  // The bytes move in under a name no record mentions yet: invisible until the record's rename.
  const fs::path bytes_path = dir / record.file;
  if (::rename(upload.temp_path_.c_str(), bytes_path.c_str()) != 0) {
    throw std::system_error(errno, std::generic_category(), "rename to " + bytes_path.string());
  }
  upload.temp_path_.clear();
  try {
    sync_directory(dir);
    const fs::path temp_record = temp_dir_ / (random_hex(16) + ".record");
    {
      FileDescriptor fd = open_file(temp_record, O_WRONLY | O_CREAT | O_EXCL, 0600);
      const std::string text = serialize_record(record);
      write_all(fd.get(), text.data(), text.size(), temp_record);
      sync_file(fd.get(), temp_record);
    }
    std::lock_guard lock(record_lock(hash));
    std::optional<Record> previous;
    try {
      previous = read_record(path, hash);
    } catch (const std::runtime_error&) {
      // Replacing a corrupt record repairs it; its bytes file (if any) stays as garbage.
    }
    if (::rename(temp_record.c_str(), path.c_str()) != 0) {
      const int error = errno;
      ::unlink(temp_record.c_str());
      throw std::system_error(error, std::generic_category(), "rename to " + path.string());
    }
    if (previous && previous->file != record.file) {
      ::unlink((dir / previous->file).c_str());
    }
    sync_directory(dir);
    return {std::move(record.info), previous.has_value()};
  } catch (...) {
    ::unlink(bytes_path.c_str());
    throw;
  }
}

std::optional<OpenObject> LocalMediaStore::open_object(const std::string& object_id) const {
  const fs::path path = record_path(object_id);
  const std::string hash = path.stem().string();
  // A commit or removal running concurrently may delete the bytes file between our reading the
  // record and opening the file; the record read again then names the current file (or none).
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto record = read_record(path, hash);
    if (!record) return std::nullopt;
    const fs::path bytes_path = path.parent_path() / record->file;
    const int fd = ::open(bytes_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      throw std::system_error(errno, std::generic_category(), "open " + bytes_path.string());
    }
    FileDescriptor file(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) != record->info.size) {
      throw std::runtime_error("media object " + bytes_path.string() +
                               " does not have the size its record says");
    }
    return OpenObject{std::move(record->info), std::move(file)};
  }
  throw std::runtime_error("media record " + path.string() + " names a missing file");
}

}  // namespace tams::media
