#include "tams/media/s3/client.h"

#include <curl/curl.h>

#include <ctime>
#include <memory>
#include <mutex>

namespace tams::media::s3 {

namespace {

size_t discard(char*, size_t size, size_t count, void*) { return size * count; }

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

Reply Client::send(std::string_view method, const Endpoint& endpoint, std::string_view host,
                   std::string_view path) const {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  const std::string date = amz_date(static_cast<int64_t>(std::time(nullptr)));
  SigningRequest request{std::string(method), std::string(path), {},
                         {{"host", std::string(host)},
                          {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)},
                          {"x-amz-date", date}},
                         std::string(kEmptyPayloadSha256)};
  const std::string authorization = signer_.authorization(request, date);

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const std::string& line :
       {"x-amz-content-sha256: " + std::string(kEmptyPayloadSha256),
        "x-amz-date: " + date, "Authorization: " + authorization}) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) return Reply{0, "out of memory"};
    headers.release();
    headers.reset(next);
  }
  // curl sends Host from the URL: the endpoint's authority, or bucket.authority.
  const std::string url = endpoint.scheme + "://" + std::string(host) + uri_encode(path, true);

  std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  if (!handle) return Reply{0, "curl_easy_init failed"};
  CURL* c = handle.get();
  char error[CURL_ERROR_SIZE] = {0};
  const std::string method_text(method);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);  // keys may hold "." and ".." segments
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  if (method_text == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method_text != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "tams-s3");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return Reply{0, error[0] != '\0' ? std::string(error) : std::string(curl_easy_strerror(rc))};
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return Reply{status, {}};
}

}  // namespace tams::media::s3
