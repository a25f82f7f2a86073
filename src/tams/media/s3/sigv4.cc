#include "tams/media/s3/sigv4.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <stdexcept>

namespace tams::media::s3 {

namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Leading and trailing blanks removed, inner runs of blanks collapsed to one space.
std::string trim_value(std::string_view v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

std::string canonical_query(const Pairs& query) {
  Pairs encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

// Lowercased names, sorted; values of repeated names joined with ','.
std::map<std::string, std::string> canonical_headers(const Pairs& headers) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) {
    auto [it, inserted] = out.emplace(lower(name), trim_value(value));
    if (!inserted) {
      it->second += ',';
      it->second += trim_value(value);
    }
  }
  return out;
}

void check_date_time(std::string_view date_time) {
  if (date_time.size() != 16 || date_time[8] != 'T' || date_time[15] != 'Z') {
    throw std::invalid_argument("SigV4: expected a date like 20150830T123600Z");
  }
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (unsigned char c : text) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0f];
    }
  }
  return out;
}

std::string amz_date(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string signed_header_names(const SigningRequest& request) {
  std::string out;
  for (const auto& [name, value] : canonical_headers(request.headers)) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

std::string canonical_request(const SigningRequest& request) {
  std::string out = request.method;
  out += '\n';
  out += uri_encode(request.path, true);
  out += '\n';
  out += canonical_query(request.query);
  out += '\n';
  std::string names;
  for (const auto& [name, value] : canonical_headers(request.headers)) {
    out += name;
    out += ':';
    out += value;
    out += '\n';
    if (!names.empty()) names += ';';
    names += name;
  }
  out += '\n';
  out += names;
  out += '\n';
  out += request.payload_hash;
  return out;
}

Signer::Signer(Credentials credentials, std::string region, std::string service)
    : credentials_(std::move(credentials)), region_(std::move(region)), service_(std::move(service)) {}

std::string Signer::scope(std::string_view date_time) const {
  std::string out(date_time.substr(0, 8));
  out += '/';
  out += region_;
  out += '/';
  out += service_;
  out += "/aws4_request";
  return out;
}

std::shared_ptr<const HmacSha256> Signer::signing_key(std::string_view date) const {
  std::lock_guard lock(key_mutex_);
  if (key_ && key_date_ == date) return key_;
  auto step = [](std::string_view key, std::string_view message) {
    const HmacSha256::Digest d = HmacSha256(key).mac(message);
    return std::string(reinterpret_cast<const char*>(d.data()), d.size());
  };
  const std::string k_date = step("AWS4" + credentials_.secret_access_key, date);
  const std::string k_region = step(k_date, region_);
  const std::string k_service = step(k_region, service_);
  const std::string k_signing = step(k_service, "aws4_request");
  key_ = std::make_shared<const HmacSha256>(k_signing);
  key_date_ = std::string(date);
  ++derivations_;
  return key_;
}

uint64_t Signer::key_derivations() const {
  std::lock_guard lock(key_mutex_);
  return derivations_;
}

std::string Signer::signature(std::string_view date_time, std::string_view canonical) const {
  check_date_time(date_time);
  std::string to_sign = "AWS4-HMAC-SHA256\n";
  to_sign += date_time;
  to_sign += '\n';
  to_sign += scope(date_time);
  to_sign += '\n';
  to_sign += sha256_hex(canonical);
  return signing_key(date_time.substr(0, 8))->hex(to_sign);
}

std::string Signer::authorization(const SigningRequest& request, std::string_view date_time) const {
  return "AWS4-HMAC-SHA256 Credential=" + credentials_.access_key_id + "/" + scope(date_time) +
         ", SignedHeaders=" + signed_header_names(request) +
         ", Signature=" + signature(date_time, canonical_request(request));
}

std::string Signer::presign_query(std::string_view method, std::string_view host,
                                  std::string_view path, std::string_view date_time,
                                  int64_t expires_seconds, Pairs query,
                                  std::string_view payload_hash) const {
  check_date_time(date_time);
  query.emplace_back("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
  query.emplace_back("X-Amz-Credential", credentials_.access_key_id + "/" + scope(date_time));
  query.emplace_back("X-Amz-Date", std::string(date_time));
  query.emplace_back("X-Amz-Expires", std::to_string(expires_seconds));
  query.emplace_back("X-Amz-SignedHeaders", "host");
  SigningRequest request{std::string(method), std::string(path), std::move(query),
                         {{"host", std::string(host)}}, std::string(payload_hash)};
  const std::string canonical = canonical_request(request);
  // The canonical query is the second line after the path: reuse it as the URL's query.
  const size_t first = canonical.find('\n');
  const size_t second = canonical.find('\n', first + 1);
  const size_t third = canonical.find('\n', second + 1);
  std::string out = canonical.substr(second + 1, third - second - 1);
  out += "&X-Amz-Signature=";
  out += signature(date_time, canonical);
  return out;
}

}  // namespace tams::media::s3
