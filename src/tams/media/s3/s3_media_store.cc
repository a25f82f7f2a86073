#include "tams/media/s3/s3_media_store.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <utility>

namespace tams::media::s3 {

namespace {

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// amz_date of the current second, formatted once per second per thread.
const std::string& cached_amz_date(int64_t now) {
  thread_local int64_t second = -1;
  thread_local std::string text;
  if (now != second) {
    second = now;
    text = amz_date(now);
  }
  return text;
}

}  // namespace

std::unique_ptr<S3MediaStore> S3MediaStore::open(S3Options options) {
  std::vector<Endpoint> endpoints;
  for (const auto& url : options.endpoints) {
    try {
      endpoints.push_back(parse_endpoint(url));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("endpoint " + url + ": " + e.what());
    }
  }
  std::unique_ptr<S3MediaStore> store(new S3MediaStore(std::move(options), std::move(endpoints)));
  store->check_now();
  store->thread_ = std::thread([s = store.get()] { s->run(); });
  return store;
}

S3MediaStore::S3MediaStore(S3Options options, std::vector<Endpoint> endpoints)
    : options_(std::move(options)),
      name_("storage backend " + options_.backend.label + " (" + options_.backend.id + ")"),
      signer_(options_.credentials, options_.backend.region.empty() ? "us-east-1"
                                                                    : options_.backend.region),
      endpoints_(name_, std::move(endpoints)),
      client_(signer_, options_.timeout) {}

S3MediaStore::~S3MediaStore() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::pair<std::string, std::string> S3MediaStore::locate(size_t i, std::string_view key) const {
  const Endpoint& e = endpoints_.at(i);
  if (options_.path_style) {
    std::string path = e.base_path + "/" + options_.bucket;
    if (!key.empty()) {
      path += '/';
      path += key;
    }
    return {e.authority, std::move(path)};
  }
  return {options_.bucket + "." + e.authority, e.base_path + "/" + std::string(key)};
}

std::string S3MediaStore::presigned_url(std::string_view method, size_t endpoint,
                                        const std::string& object_id, int64_t now) const {
  const auto [host, path] = locate(endpoint, object_id);
  const std::string encoded_path = uri_encode(path, true);
  std::string url = endpoints_.at(endpoint).scheme;
  url.reserve(host.size() + encoded_path.size() + 400);
  url += "://";
  url += host;
  url += encoded_path;
  url += '?';
  url += signer_.presign_query(method, host, encoded_path, cached_amz_date(now),
                               options_.url_expiry_seconds);
  count_signed_url(method == "PUT" ? SignedMethod::kPut : SignedMethod::kGet);
  return url;
}

std::optional<std::string> S3MediaStore::unreachable() const {
  if (endpoints_.any_healthy()) return std::nullopt;
  return name_ + ": no endpoint is answering";
}

std::string S3MediaStore::put_url(const std::string&, const std::string& object_id) const {
  const auto i = endpoints_.next_healthy();
  if (!i) throw StoreUnavailable(name_ + " cannot be reached: no endpoint is answering");
  return presigned_url("PUT", *i, object_id, unix_now());
}

std::string S3MediaStore::get_url(const std::string&, const std::string& object_id) const {
  const auto i = endpoints_.next_healthy();
  return presigned_url("GET", i ? *i : endpoints_.next_any(), object_id, unix_now());
}

Reply S3MediaStore::send(std::string_view method, std::string_view key) const {
  Reply last{0, "no endpoint is answering"};
  for (size_t i : endpoints_.healthy_in_rotation()) {
    const auto [host, path] = locate(i, key);
    last = client_.send(method, endpoints_.at(i), host, path);
    if (last.reached() && last.status < 500) return last;
    endpoints_.set_healthy(i, false, last.reached() ? "HTTP " + std::to_string(last.status)
                                                    : last.error);
  }
  return last;
}

bool S3MediaStore::exists(const std::string& object_id) const {
  const Reply r = send("HEAD", object_id);
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  if (!r.reached()) throw StoreUnavailable(name_ + " cannot be reached: " + r.error);
  throw StoreUnavailable(name_ + " answered HTTP " + std::to_string(r.status) +
                         " to the check of an object");
}

void S3MediaStore::remove(const std::string& object_id) {
  const Reply r = send("DELETE", object_id);
  if (r.status == 204 || r.status == 200 || r.status == 404) return;
  throw StoreUnavailable(name_ + " could not delete object " + object_id + " (" +
                         (r.reached() ? "HTTP " + std::to_string(r.status) : r.error) + ")");
}

void S3MediaStore::check_now() {
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const auto [host, path] = locate(i, "");
    const Reply r = client_.send("HEAD", endpoints_.at(i), host, path.empty() ? "/" : path);
    endpoints_.set_healthy(i, r.reached() && r.status < 500,
                           r.reached() ? "HTTP " + std::to_string(r.status) : r.error);
    // The gateway answers, but uploads will fail: say why once per change of answer.
    if (r.status == 403 || r.status == 404) {
      std::lock_guard lock(mutex_);
      if (std::exchange(last_refusal_, r.status) != r.status) {
        spdlog::warn("{}: endpoint {} answers HTTP {} for bucket {} ({})", name_,
                     endpoints_.at(i).url, r.status, options_.bucket,
                     r.status == 404 ? "it does not exist" : "check the access key and its rights");
      }
    }
  }
}

void S3MediaStore::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, options_.health_interval, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    try {
      check_now();
    } catch (const std::exception& e) {
      spdlog::error("{}: background check failed: {}", name_, e.what());
    }
    lock.lock();
  }
}

}  // namespace tams::media::s3
