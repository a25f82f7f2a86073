#include "tams/config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>
#include <string_view>
#include <toml.hpp>
#include <variant>

#include "tams/config/s3_backends.h"

extern char** environ;

namespace tams::config {

namespace {

// std::map keeps the file's keys sorted, so "unknown keys" messages are deterministic.
using detail::TomlValue;

// A parsed value before it is stored in Config; which alternative depends on the field's type.
using Value = std::variant<std::string, int64_t, std::vector<std::string>>;

// A problem with one value, without saying where the value came from; load() adds that.
struct Problem {
  std::string message;
};

[[noreturn]] void fail(std::string message) { throw Problem{std::move(message)}; }

// ---------------------------------------------------------------------------------------------
// Text helpers.

// Escapes control characters (and, inside quotes, quotes and backslashes) so that an error
// message stays one line and unambiguous whatever the configuration contains.
std::string printable(std::string_view s, bool quoted = false) {
  std::string out;
  for (unsigned char c : s) {
    if (quoted && (c == '"' || c == '\\')) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string quote(std::string_view s) { return "\"" + printable(s, true) + "\""; }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// "a, b ,c" -> {"a", "b", "c"}. An empty (or blank) string is the empty list, so that
// TAMS_AUTH_TOKENS= can switch a lower layer's list off. Empty items ("a,,b") are kept for
// the field's validator to reject with a message that suits it.
std::vector<std::string> split_comma_list(std::string_view text) {
  std::vector<std::string> items;
  if (trim(text).empty()) return items;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    items.emplace_back(trim(text.substr(start, comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return items;
}

// Plain decimal with an optional '-': no '+', blanks, hex, exponent or trailing junk.
std::optional<int64_t> parse_decimal(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, 10);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// ---------------------------------------------------------------------------------------------
// Value validators. Each throws Problem; none of them quotes a password or token.

// HOST is a name or IPv4 address ([A-Za-z0-9._-]+) or a bracketed IPv6 address.
bool is_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    std::string_view inner = host.substr(1, host.size() - 2);
    bool chars_ok = std::all_of(inner.begin(), inner.end(),
                                [](char c) { return is_hex(c) || c == ':' || c == '.'; });
    return chars_ok && inner.find(':') != std::string_view::npos;
  }
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_';
  });
}

bool is_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  if (!std::all_of(port.begin(), port.end(), is_digit)) return false;
  int value = std::stoi(std::string(port));
  return value >= 1 && value <= 65535;
}

// HOST:PORT, or HOST alone when the port is optional (origins).
bool is_host_port(std::string_view s, bool port_required) {
  size_t colon = s.rfind(':');
  // A colon inside the brackets of an IPv6 address does not start the port.
  if (colon != std::string_view::npos && s.find(']') != std::string_view::npos &&
      colon < s.find(']')) {
    colon = std::string_view::npos;
  }
  if (colon == std::string_view::npos) return !port_required && is_host(s);
  return is_host(s.substr(0, colon)) && is_port(s.substr(colon + 1));
}

void check_listen(const std::string& listen) {
  if (!is_host_port(listen, true)) {
    fail("expected HOST:PORT (HOST a name, an IPv4 address or [IPv6]; PORT from 1 to 65535), got " +
         quote(listen));
  }
}

// "*" or scheme://host[:port], which is what browsers send in Origin (no path, no slash).
bool is_origin(std::string_view s) {
  if (s == "*") return true;
  size_t sep = s.find("://");
  if (sep == std::string_view::npos || sep == 0 || !is_alpha(s[0])) return false;
  std::string_view scheme = s.substr(0, sep);
  bool scheme_ok = std::all_of(scheme.begin(), scheme.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
  });
  return scheme_ok && is_host_port(s.substr(sep + 3), false);
}

void check_cors_origins(const std::vector<std::string>& origins) {
  for (size_t i = 0; i < origins.size(); ++i) {
    if (origins[i].empty()) fail("empty origin (entry " + std::to_string(i + 1) + ")");
    if (!is_origin(origins[i])) {
      fail("expected \"*\" or scheme://host[:port] without a path, got " + quote(origins[i]));
    }
  }
}

// Bearer tokens are compared byte for byte, so blanks or control characters would make a token
// that no client can send; the message gives the position, never the token.
void check_tokens(const std::vector<std::string>& tokens) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string entry = "(entry " + std::to_string(i + 1) + ")";
    if (tokens[i].empty()) fail("empty token " + entry);
    bool printable_only = std::all_of(tokens[i].begin(), tokens[i].end(),
                                      [](unsigned char c) { return c > 0x20 && c != 0x7f; });
    if (!printable_only) fail("token " + entry + " contains blanks or control characters");
  }
}

// "user:pass" split at the first ':' (passwords may contain ':', user ids may not, RFC 7617).
std::vector<BasicUser> parse_basic_users(const std::vector<std::string>& entries) {
  std::vector<BasicUser> users;
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string entry = "entry " + std::to_string(i + 1);
    size_t colon = entries[i].find(':');
    if (entries[i].empty()) fail(entry + " is empty");
    if (colon == std::string::npos) fail(entry + " is not user:password (no ':')");
    if (colon == 0) fail(entry + " has an empty user name");
    BasicUser user{entries[i].substr(0, colon), entries[i].substr(colon + 1)};
    // An empty password would let anyone who knows the name in.
    if (user.password.empty()) fail("user " + quote(user.name) + " has an empty password");
    users.push_back(std::move(user));
  }
  return users;
}

std::string normalize_log_level(const std::string& level) {
  static const char* const kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  std::string lower = to_lower(level);
  for (const char* known : kLevels) {
    if (lower == known) return lower;
  }
  fail("expected one of trace, debug, info, warn, error, off, got " + quote(level));
}

// The authority of scheme://authority/..., or "" when there is no "://".
std::string_view url_authority(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return {};
  std::string_view rest = url.substr(sep + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

// Returns the URL without its one optional trailing slash, so that callers can append paths.
std::string normalize_public_url(const std::string& url) {
  if (url.empty()) return url;
  // user:password@ would be a credential: checked first, and never echoed.
  if (url_authority(url).find('@') != std::string_view::npos) {
    fail("must not contain user information (user@ or user:password@)");
  }
  std::string lower = to_lower(url);
  if (!lower.starts_with("http://") && !lower.starts_with("https://")) {
    fail("expected an http:// or https:// URL, got " + quote(url));
  }
  if (!is_host_port(url_authority(url), false)) {
    fail("expected http(s)://host[:port][/path], got " + quote(url));
  }
  bool has_junk = std::any_of(url.begin(), url.end(), [](unsigned char c) {
    return c <= 0x20 || c == 0x7f || c == '?' || c == '#';
  });
  if (has_junk) fail("must not contain a query, a fragment, blanks or controls, got " + quote(url));
  std::string out = url;
  if (out.ends_with('/')) out.pop_back();
  if (out.ends_with('/')) fail("must not end with '/', got " + quote(url));
  return out;
}

void check_hs256_secret(const std::string& secret) {
  // RFC 7518 §3.2: an HS256 key must be at least as long as the hash (256 bits). Never echoed.
  if (!secret.empty() && secret.size() < 32) {
    fail("must be at least 32 bytes (256 bits), got " + std::to_string(secret.size()) + " bytes");
  }
}

bool has_controls(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

void check_no_controls(const std::string& value) {
  if (has_controls(value)) fail("must not contain control characters, got " + quote(value));
}

void check_jwks_url(const std::string& url) {
  if (url.empty()) return;
  // user:password@ would be a credential: checked first, and never echoed.
  if (url_authority(url).find('@') != std::string_view::npos) {
    fail("must not contain user information (user@ or user:password@)");
  }
  std::string lower = to_lower(url);
  if (!lower.starts_with("http://") && !lower.starts_with("https://")) {
    fail("expected an http:// or https:// URL, got " + quote(url));
  }
  if (!is_host_port(url_authority(url), false)) {
    fail("expected http(s)://host[:port]/path, got " + quote(url));
  }
  bool has_junk = std::any_of(url.begin(), url.end(),
                              [](unsigned char c) { return c <= 0x20 || c == 0x7f || c == '#'; });
  if (has_junk) fail("must not contain a fragment, blanks or controls, got " + quote(url));
}

// A PostgreSQL URI. Never echoed: it may hold a password.
void check_db_url(const std::string& url) {
  if (url.empty()) return;
  const std::string lower = to_lower(url);
  if (!lower.starts_with("postgres://") && !lower.starts_with("postgresql://")) {
    fail("expected a postgres:// or postgresql:// URI");
  }
  if (has_controls(url)) fail("must not contain control characters");
}

void check_db_replicas(const std::vector<std::string>& urls) {
  for (size_t i = 0; i < urls.size(); ++i) {
    if (urls[i].empty()) fail("empty URI (entry " + std::to_string(i + 1) + ")");
    try {
      check_db_url(urls[i]);
    } catch (const Problem& p) {
      fail("entry " + std::to_string(i + 1) + ": " + p.message);
    }
  }
}

constexpr std::string_view kScopes[] = {"tams-api/read", "tams-api/write", "tams-api/delete",
                                        "tams-api/admin"};

std::vector<std::string> parse_scopes(const std::vector<std::string>& entries) {
  std::vector<std::string> scopes;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].empty()) fail("empty scope (entry " + std::to_string(i + 1) + ")");
    if (std::find(std::begin(kScopes), std::end(kScopes), entries[i]) == std::end(kScopes)) {
      fail("expected tams-api/read, tams-api/write, tams-api/delete or tams-api/admin, got " +
           quote(entries[i]));
    }
    if (std::find(scopes.begin(), scopes.end(), entries[i]) == scopes.end()) {
      scopes.push_back(entries[i]);
    }
  }
  return scopes;
}

// Webhook allowlist entries: a host name, an IPv4/IPv6 address, or address/prefix.
void check_allowed_hosts(const std::vector<std::string>& entries) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& e = entries[i];
    if (e.empty()) fail("empty entry (entry " + std::to_string(i + 1) + ")");
    const size_t slash = e.find('/');
    const std::string address = e.substr(0, slash);
    unsigned char buf[16];
    const bool v4 = inet_pton(AF_INET, address.c_str(), buf) == 1;
    const bool v6 = !v4 && inet_pton(AF_INET6, address.c_str(), buf) == 1;
    if (slash != std::string::npos) {
      const auto prefix = parse_decimal(std::string_view(e).substr(slash + 1));
      if (!(v4 || v6) || !prefix || *prefix < 0 || *prefix > (v4 ? 32 : 128)) {
        fail("expected a host name, an IP address or a CIDR block, got " + quote(e));
      }
    } else if (!v4 && !v6 && (e.front() == '[' || !is_host(e))) {
      fail("expected a host name, an IP address or a CIDR block, got " + quote(e));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The keys.

enum class Type { kString, kInteger, kList };

// One configuration key. Integer keys are range-checked against [min, max] before `store`; the
// other types are validated by `store` itself.
struct Field {
  std::string_view key;
  Type type;
  void (*store)(Config&, Value);
  int64_t min = 0;
  int64_t max = 0;
};

std::string& str(Value& v) { return std::get<std::string>(v); }
int64_t num(const Value& v) { return std::get<int64_t>(v); }
std::vector<std::string>& list(Value& v) { return std::get<std::vector<std::string>>(v); }

constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();

const Field kFields[] = {
    {"listen", Type::kString,
     [](Config& c, Value v) {
       check_listen(str(v));
       c.listen = std::move(str(v));
     }},
    {"data_dir", Type::kString,
     [](Config& c, Value v) {
       if (str(v).empty()) fail("must not be empty");
       c.data_dir = std::move(str(v));
     }},
    {"auth_basic", Type::kList,
     [](Config& c, Value v) { c.auth_basic = parse_basic_users(list(v)); }},
    {"auth_tokens", Type::kList,
     [](Config& c, Value v) {
       check_tokens(list(v));
       c.auth_tokens = std::move(list(v));
     }},
    {"cors_origins", Type::kList,
     [](Config& c, Value v) {
       check_cors_origins(list(v));
       c.cors_origins = std::move(list(v));
     }},
    {"page_limit_default", Type::kInteger,
     [](Config& c, Value v) { c.page_limit_default = num(v); }, 1, kNoMax},
    {"page_limit_max", Type::kInteger, [](Config& c, Value v) { c.page_limit_max = num(v); }, 1,
     kNoMax},
    {"max_body_bytes", Type::kInteger, [](Config& c, Value v) { c.max_body_bytes = num(v); }, 1024,
     kNoMax},
    {"threads", Type::kInteger, [](Config& c, Value v) { c.threads = static_cast<int>(num(v)); }, 0,
     1024},
    {"log_level", Type::kString,
     [](Config& c, Value v) { c.log_level = normalize_log_level(str(v)); }},
    {"public_url", Type::kString,
     [](Config& c, Value v) { c.public_url = normalize_public_url(str(v)); }},
    {"media_max_object_bytes", Type::kInteger,
     [](Config& c, Value v) { c.media_max_object_bytes = num(v); }, 1, kNoMax},
    {"media_url_expiry_seconds", Type::kInteger,
     [](Config& c, Value v) { c.media_url_expiry_seconds = num(v); }, 1, 7 * 24 * 3600},
    {"storage_limit_default", Type::kInteger,
     [](Config& c, Value v) { c.storage_limit_default = num(v); }, 1, kNoMax},
    {"storage_limit_max", Type::kInteger,
     [](Config& c, Value v) { c.storage_limit_max = num(v); }, 1, kNoMax},
    {"allocation_expiry_seconds", Type::kInteger,
     [](Config& c, Value v) { c.allocation_expiry_seconds = num(v); }, 1, kNoMax},
    {"check_uploads", Type::kString,
     [](Config& c, Value v) {
       if (str(v) == "true") c.check_uploads = true;
       else if (str(v) == "false") c.check_uploads = false;
       else fail("expected true or false, got \"" + str(v) + "\"");
     }},
    {"delete_budget_ms", Type::kInteger,
     [](Config& c, Value v) { c.delete_budget_ms = num(v); }, 0, 3600 * 1000},
    {"deletion_request_expiry_seconds", Type::kInteger,
     [](Config& c, Value v) { c.deletion_request_expiry_seconds = num(v); }, 1, kNoMax},
    {"gc_interval_seconds", Type::kInteger,
     [](Config& c, Value v) { c.gc_interval_seconds = num(v); }, 1, 86400},
    {"job_lease_seconds", Type::kInteger,
     [](Config& c, Value v) { c.job_lease_seconds = num(v); }, 2, 3600},
    {"webhook_allowed_hosts", Type::kList,
     [](Config& c, Value v) {
       check_allowed_hosts(list(v));
       c.webhook_allowed_hosts = std::move(list(v));
     }},
    {"webhook_timeout_ms", Type::kInteger,
     [](Config& c, Value v) { c.webhook_timeout_ms = num(v); }, 100, 600 * 1000},
    {"webhook_concurrency", Type::kInteger,
     [](Config& c, Value v) { c.webhook_concurrency = num(v); }, 1, 256},
    {"webhook_max_attempts", Type::kInteger,
     [](Config& c, Value v) { c.webhook_max_attempts = num(v); }, 1, 1000},
    {"webhook_retry_base_ms", Type::kInteger,
     [](Config& c, Value v) { c.webhook_retry_base_ms = num(v); }, 1, 3600 * 1000},
    {"auth_static_scopes", Type::kList,
     [](Config& c, Value v) { c.auth_static_scopes = parse_scopes(list(v)); }},
    {"jwt_hs256_secret", Type::kString,
     [](Config& c, Value v) {
       check_hs256_secret(str(v));
       c.jwt_hs256_secret = std::move(str(v));
     }},
    {"jwt_jwks_file", Type::kString,
     [](Config& c, Value v) {
       check_no_controls(str(v));
       c.jwt_jwks_file = std::move(str(v));
     }},
    {"jwt_jwks_url", Type::kString,
     [](Config& c, Value v) {
       check_jwks_url(str(v));
       c.jwt_jwks_url = std::move(str(v));
     }},
    {"jwt_jwks_refresh_seconds", Type::kInteger,
     [](Config& c, Value v) { c.jwt_jwks_refresh_seconds = num(v); }, 1, 7 * 24 * 3600},
    {"jwt_issuer", Type::kString,
     [](Config& c, Value v) {
       check_no_controls(str(v));
       c.jwt_issuer = std::move(str(v));
     }},
    {"jwt_audience", Type::kString,
     [](Config& c, Value v) {
       check_no_controls(str(v));
       c.jwt_audience = std::move(str(v));
     }},
    {"jwt_clock_skew_seconds", Type::kInteger,
     [](Config& c, Value v) { c.jwt_clock_skew_seconds = num(v); }, 0, 3600},
    {"db", Type::kString,
     [](Config& c, Value v) {
       check_db_url(str(v));
       c.db = std::move(str(v));
     }},
    {"db_replicas", Type::kList,
     [](Config& c, Value v) {
       check_db_replicas(list(v));
       c.db_replicas = std::move(list(v));
     }},
    {"db_replica_max_lag_ms", Type::kInteger,
     [](Config& c, Value v) { c.db_replica_max_lag_ms = num(v); }, 0, 3600 * 1000},
    {"db_read_primary_after_write_ms", Type::kInteger,
     [](Config& c, Value v) { c.db_read_primary_after_write_ms = num(v); }, 0, 3600 * 1000},
    {"local_storage", Type::kString,
     [](Config& c, Value v) {
       if (str(v) != "default" && str(v) != "secondary" && str(v) != "disabled") {
         fail("expected default, secondary or disabled, got " + quote(str(v)));
       }
       c.local_storage = std::move(str(v));
     }},
    {"metrics_access", Type::kString,
     [](Config& c, Value v) {
       if (str(v) != "loopback" && str(v) != "authenticated" && str(v) != "public") {
         fail("expected loopback, authenticated or public, got \"" + str(v) + "\"");
       }
       c.metrics_access = std::move(str(v));
     }},
    {"cache_flows", Type::kInteger, [](Config& c, Value v) { c.cache_flows = num(v); }, 0,
     10000000},
    {"cache_sources", Type::kInteger, [](Config& c, Value v) { c.cache_sources = num(v); }, 0,
     10000000},
    {"cache_segments", Type::kInteger, [](Config& c, Value v) { c.cache_segments = num(v); }, 0,
     100000000},
    {"cache_segment_page_max_age_ms", Type::kInteger,
     [](Config& c, Value v) { c.cache_segment_page_max_age_ms = num(v); }, 1, 60000},
};

// Keys of the file that are tables rather than values (config/s3_backends.cc reads them).
constexpr std::string_view kS3BackendsKey = "s3_backends";

const Field* find_field(std::string_view key) {
  for (const Field& f : kFields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

std::string expected_integer(const Field& f) {
  if (f.max == kNoMax) return "an integer >= " + std::to_string(f.min);
  return "an integer from " + std::to_string(f.min) + " to " + std::to_string(f.max);
}

void check_range(const Field& f, int64_t value) {
  if (value < f.min || value > f.max) {
    fail("expected " + expected_integer(f) + ", got " + std::to_string(value));
  }
}

// ---------------------------------------------------------------------------------------------
// Where values come from.

// The layers in increasing precedence; errors name a key the way its layer spells it.
enum class Layer { kDefault, kFile, kEnvironment, kFlag };

struct Origin {
  Layer layer = Layer::kDefault;
  std::string file;  // for kFile
};

std::string env_name(std::string_view key) { return "TAMS_" + to_upper(key); }

std::string flag_name(std::string_view key) {
  if (key == "db_replicas") return "--db-replica";  // repeatable: one URI per flag
  std::string flag = "--" + std::string(key);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string file_label(const std::string& path) { return "config file " + printable(path); }

// How an error message names `key` as set by `origin`, e.g. TAMS_THREADS.
std::string key_label(const Origin& origin, std::string_view key) {
  switch (origin.layer) {
    case Layer::kDefault:
      return std::string(key) + " (default)";
    case Layer::kFile:
      return file_label(origin.file) + ": " + std::string(key);
    case Layer::kEnvironment:
      return env_name(key);
    case Layer::kFlag:
      return flag_name(key);
  }
  return std::string(key);
}

// The configuration under construction, with the origin of every key set so far.
struct Builder {
  Config config;
  std::map<std::string_view, Origin> origins;

  Origin origin_of(std::string_view key) const {
    auto it = origins.find(key);
    return it == origins.end() ? Origin{} : it->second;
  }

  // Validates and stores one value; `parse` turns the layer's raw value into a Value.
  template <typename Parse>
  void set(const Field& f, const Origin& origin, Parse parse) {
    try {
      Value value = parse();
      if (f.type == Type::kInteger) check_range(f, num(value));
      f.store(config, std::move(value));
    } catch (const Problem& p) {
      throw ConfigError(key_label(origin, f.key) + ": " + p.message);
    }
    origins[f.key] = origin;
  }
};

// Environment and flag values are untyped text.
Value value_from_text(const Field& f, const std::string& text) {
  switch (f.type) {
    case Type::kString:
      return text;
    case Type::kInteger:
      if (auto n = parse_decimal(text)) return *n;
      fail("expected " + expected_integer(f) + ", got " + quote(text));
    case Type::kList:
      return split_comma_list(text);
  }
  fail("internal error: unknown type");
}

// ---------------------------------------------------------------------------------------------
// The TOML file.

std::string toml_type_name(const TomlValue& v) {
  switch (v.type()) {
    case toml::value_t::boolean:
      return "a boolean";
    case toml::value_t::integer:
      return "an integer";
    case toml::value_t::floating:
      return "a floating-point number";
    case toml::value_t::string:
      return "a string";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime:
      return "a date-time";
    case toml::value_t::local_date:
      return "a date";
    case toml::value_t::local_time:
      return "a time";
    case toml::value_t::array:
      return "an array";
    case toml::value_t::table:
      return "a table";
    default:
      return "nothing";
  }
}

// toml11 3.x reads integers with operator>>, which saturates instead of failing, so a saturated
// value is re-read from its source text to tell a real INT64_MAX from an overflow.
bool toml_integer_overflowed(const TomlValue& v) {
  int64_t n = v.as_integer();
  if (n != std::numeric_limits<int64_t>::max() && n != std::numeric_limits<int64_t>::min()) {
    return false;
  }
  toml::source_location where = v.location();
  if (where.column() < 1 || where.column() - 1 >= where.line_str().size()) return false;
  std::string digits;
  for (char c : where.line_str().substr(where.column() - 1, where.region())) {
    if (c != '_' && c != '+') digits += c;
  }
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && std::strchr("xob", digits[1]) != nullptr) {
    base = digits[1] == 'x' ? 16 : digits[1] == 'o' ? 8 : 2;
    digits.erase(0, 2);
  }
  int64_t reread = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), reread, base);
  return ec == std::errc::result_out_of_range;
}

std::vector<std::string> toml_string_list(const TomlValue& v) {
  if (v.is_string()) return split_comma_list(v.as_string().str);
  if (!v.is_array()) {
    fail("expected a string or an array of strings, got " + toml_type_name(v));
  }
  std::vector<std::string> items;
  for (const TomlValue& item : v.as_array()) {
    if (!item.is_string()) {
      fail("expected an array of strings, got an array containing " + toml_type_name(item));
    }
    items.push_back(item.as_string().str);
  }
  return items;
}

Value value_from_toml(const Field& f, const TomlValue& v) {
  switch (f.type) {
    case Type::kString:
      if (!v.is_string()) fail("expected a string, got " + toml_type_name(v));
      return v.as_string().str;
    case Type::kInteger:
      if (!v.is_integer()) fail("expected an integer, got " + toml_type_name(v));
      if (toml_integer_overflowed(v))
        fail("expected " + expected_integer(f) + ", got an out-of-range integer");
      return v.as_integer();
    case Type::kList:
      return toml_string_list(v);
  }
  fail("internal error: unknown type");
}

// Reads the whole file ourselves so that "missing", "not readable" and "a directory" get the
// system's wording rather than toml11's generic "file open error".
std::string read_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) throw ConfigError(file_label(path) + ": cannot open: " + std::strerror(errno));
  std::string content;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0) content.append(buf, n);
  if (std::ferror(file.get())) {
    throw ConfigError(file_label(path) + ": cannot read: " + std::strerror(errno));
  }
  return content;
}

// toml11's messages span several lines (with an excerpt of the file, which may hold secrets);
// keep the first line without its "[error] toml::function_name: " prefix.
std::string first_line_of_toml_error(const std::string& what) {
  std::string_view line(what);
  line = line.substr(0, line.find('\n'));
  if (line.starts_with("[error] ")) line.remove_prefix(8);
  if (line.starts_with("toml::")) {
    size_t colon = line.find(": ");
    if (colon != std::string_view::npos) line.remove_prefix(colon + 2);
  }
  return printable(line);
}

TomlValue parse_toml(const std::string& path) {
  std::istringstream in(read_file(path));
  try {
    return toml::parse<toml::discard_comments, std::map, std::vector>(in, path);
  } catch (const toml::syntax_error& e) {
    throw ConfigError(file_label(path) + ": TOML syntax error at line " +
                      std::to_string(e.location().line()) + ": " +
                      first_line_of_toml_error(e.what()));
  } catch (const std::exception& e) {
    throw ConfigError(file_label(path) + ": cannot parse: " + first_line_of_toml_error(e.what()));
  }
}

// Typos must not pass silently, so every key has to be known before any is applied.
void reject_unknown_keys(const std::string& path, const TomlValue& root) {
  std::string unknown;
  int count = 0;
  for (const auto& [key, value] : root.as_table()) {
    if (find_field(key) != nullptr || key == kS3BackendsKey) continue;
    unknown += (count++ > 0 ? ", " : "") + quote(key);
  }
  if (count > 0) {
    throw ConfigError(file_label(path) + ": unknown key" + (count > 1 ? "s " : " ") + unknown);
  }
}

void apply_file(Builder& b, const std::string& path,
                const std::map<std::string, std::string>& environment) {
  TomlValue root = parse_toml(path);
  reject_unknown_keys(path, root);
  Origin origin{Layer::kFile, path};
  for (const auto& [key, value] : root.as_table()) {
    if (key == kS3BackendsKey) {
      b.config.s3_backends = detail::s3_backends_from_toml(value, file_label(path), environment);
      continue;
    }
    const Field& f = *find_field(key);
    b.set(f, origin, [&] { return value_from_toml(f, value); });
  }
}

void apply_environment(Builder& b, const std::map<std::string, std::string>& environment) {
  for (const Field& f : kFields) {
    auto it = environment.find(env_name(f.key));
    if (it == environment.end()) continue;
    b.set(f, Origin{Layer::kEnvironment, {}}, [&] { return value_from_text(f, it->second); });
  }
}

void apply_flag(Builder& b, std::string_view key, const std::optional<std::string>& flag) {
  if (!flag) return;
  const Field& f = *find_field(key);
  b.set(f, Origin{Layer::kFlag, {}}, [&] { return value_from_text(f, *flag); });
}

// Where a value came from, as a phrase for messages that name a second key.
std::string origin_phrase(const Origin& origin, std::string_view key) {
  if (origin.layer == Layer::kDefault) return "the default";
  return "from " +
         (origin.layer == Layer::kFile ? file_label(origin.file) : key_label(origin, key));
}

// The one rule that spans two keys. The key set by the higher layer is blamed, since that is
// the one the user most likely just changed.
void check_page_limits(Builder& b) {
  Config& c = b.config;
  if (c.page_limit_default <= c.page_limit_max) return;
  Origin default_origin = b.origin_of("page_limit_default");
  Origin max_origin = b.origin_of("page_limit_max");
  // A maximum below the built-in default lowers the default with it: setting only the maximum
  // is what most operators do.
  if (default_origin.layer == Layer::kDefault) {
    c.page_limit_default = c.page_limit_max;
    return;
  }
  if (max_origin.layer > default_origin.layer) {
    throw ConfigError(key_label(max_origin, "page_limit_max") +
                      ": expected an integer >= page_limit_default (" +
                      std::to_string(c.page_limit_default) + ", " +
                      origin_phrase(default_origin, "page_limit_default") + "), got " +
                      std::to_string(c.page_limit_max));
  }
  throw ConfigError(key_label(default_origin, "page_limit_default") +
                    ": expected an integer <= page_limit_max (" + std::to_string(c.page_limit_max) +
                    ", " + origin_phrase(max_origin, "page_limit_max") + "), got " +
                    std::to_string(c.page_limit_default));
}

// JWKS from a file or a URL, not both. The key set by the higher layer is blamed.
void check_jwks_source(const Builder& b) {
  const Config& c = b.config;
  if (c.jwt_jwks_file.empty() || c.jwt_jwks_url.empty()) return;
  Origin file_origin = b.origin_of("jwt_jwks_file");
  Origin url_origin = b.origin_of("jwt_jwks_url");
  if (url_origin.layer >= file_origin.layer) {
    throw ConfigError(key_label(url_origin, "jwt_jwks_url") +
                      ": cannot be combined with jwt_jwks_file (set " +
                      origin_phrase(file_origin, "jwt_jwks_file") + ")");
  }
  throw ConfigError(key_label(file_origin, "jwt_jwks_file") +
                    ": cannot be combined with jwt_jwks_url (set " +
                    origin_phrase(url_origin, "jwt_jwks_url") + ")");
}

}  // namespace

Config load(const FlagOverrides& flags, const std::map<std::string, std::string>& environment) {
  Builder b;
  if (flags.config_file) {
    if (flags.config_file->empty()) throw ConfigError("--config: empty file name");
    apply_file(b, *flags.config_file, environment);
  }
  apply_environment(b, environment);
  // TAMS_S3_* describe one more backend (the common single-bucket case).
  if (auto s3 = detail::s3_backend_from_environment(environment)) {
    b.config.s3_backends.push_back(std::move(*s3));
  }
  apply_flag(b, "listen", flags.listen);
  apply_flag(b, "data_dir", flags.data_dir);
  apply_flag(b, "db", flags.db);
  if (flags.db_replicas) {
    b.set(*find_field("db_replicas"), Origin{Layer::kFlag, {}},
          [&] { return Value(*flags.db_replicas); });
  }
  check_page_limits(b);
  check_jwks_source(b);
  detail::settle_storage_backends(b.config);
  return b.config;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    size_t eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    // emplace keeps the first of duplicate names, as getenv() does.
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

}  // namespace tams::config
