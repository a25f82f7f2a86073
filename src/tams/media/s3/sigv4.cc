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
  std::string out(text.size() * 3, '\0');
  char* o = out.data();
  for (unsigned char c : text) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      *o++ = static_cast<char>(c);
    } else {
      *o++ = '%';
      *o++ = kHex[c >> 4];
      *o++ = kHex[c & 0x0f];
    }
  }
  out.resize(static_cast<size_t>(o - out.data()));
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

const Signer::DayKey& Signer::day_key(std::string_view date) const {
  if (const DayKey* k = current_.load(std::memory_order_acquire); k && k->date == date) return *k;
  std::lock_guard lock(key_mutex_);
  for (const auto& k : keys_) {  // another thread derived it, or a thread still on yesterday
    if (k->date == date) {
      if (k->date > current_.load()->date) current_.store(k.get(), std::memory_order_release);
      return *k;
    }
  }
  auto step = [](std::string_view key, std::string_view message) {
    const HmacSha256::Digest d = HmacSha256(key).mac(message);
    return std::string(reinterpret_cast<const char*>(d.data()), d.size());
  };
  const std::string k_date = step("AWS4" + credentials_.secret_access_key, date);
  const std::string k_region = step(k_date, region_);
  const std::string k_service = step(k_region, service_);
  const std::string k_signing = step(k_service, "aws4_request");
  std::string day_scope = scope(date);
  std::string credential = uri_encode(credentials_.access_key_id + "/" + day_scope, false);
  keys_.push_back(std::make_unique<DayKey>(std::string(date), std::move(day_scope),
                                           std::move(credential), k_signing));
  const DayKey* made = keys_.back().get();
  const DayKey* current = current_.load();
  if (!current || made->date > current->date) current_.store(made, std::memory_order_release);
  return *made;
}

uint64_t Signer::key_derivations() const {
  std::lock_guard lock(key_mutex_);
  return keys_.size();
}

std::string Signer::sign_with(const DayKey& day, std::string_view date_time,
                              std::string_view canonical) const {
  std::string to_sign;
  to_sign.reserve(64 + day.scope.size() + 64);
  to_sign += "AWS4-HMAC-SHA256\n";
  to_sign += date_time;
  to_sign += '\n';
  to_sign += day.scope;
  to_sign += '\n';
  to_sign += sha256_hex(canonical);
  return day.key.hex(to_sign);
}

std::string Signer::signature(std::string_view date_time, std::string_view canonical) const {
  check_date_time(date_time);
  return sign_with(day_key(date_time.substr(0, 8)), date_time, canonical);
}

std::string Signer::authorization(const SigningRequest& request, std::string_view date_time) const {
  return "AWS4-HMAC-SHA256 Credential=" + credentials_.access_key_id + "/" + scope(date_time) +
         ", SignedHeaders=" + signed_header_names(request) +
         ", Signature=" + signature(date_time, canonical_request(request));
}

// The canonical request of a presigned URL, built directly: the X-Amz-* names are already in
// canonical (sorted) order and host is the only signed header.
std::string Signer::presign_query(std::string_view method, std::string_view host,
                                  std::string_view encoded_path, std::string_view date_time,
                                  int64_t expires_seconds, std::string_view payload_hash) const {
  check_date_time(date_time);
  const DayKey& day = day_key(date_time.substr(0, 8));
  std::string query;
  query.reserve(160 + day.encoded_credential.size() + 64);
  query += "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=";
  query += day.encoded_credential;
  query += "&X-Amz-Date=";
  query += date_time;
  query += "&X-Amz-Expires=";
  query += std::to_string(expires_seconds);
  query += "&X-Amz-SignedHeaders=host";

  std::string canonical;
  canonical.reserve(method.size() + encoded_path.size() + query.size() + host.size() + 100);
  canonical += method;
  canonical += '\n';
  canonical += encoded_path;
  canonical += '\n';
  canonical += query;
  canonical += "\nhost:";
  canonical += host;
  canonical += "\n\nhost\n";
  canonical += payload_hash;

  query += "&X-Amz-Signature=";
  query += sign_with(day, date_time, canonical);
  return query;
}

}  // namespace tams::media::s3
