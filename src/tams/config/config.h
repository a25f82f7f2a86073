// Server configuration: defaults < TOML config file < TAMS_* environment < command-line flags.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tams::config {

// One static credential: a basic-auth user or a bearer token, and the principal it stands for.
struct BasicUser {
  std::string name;
  std::string password;
};

// One S3-compatible storage backend ([[s3_backends]] in the file, or TAMS_S3_* variables for a
// single one; docs/operations.md). Secrets are read from the environment or files at load and
// are never logged.
struct S3BackendConfig {
  std::string id;                       // stable lowercase UUID (the storage_id)
  std::string label;                    // get_urls label; default: the bucket name
  std::vector<std::string> endpoints;   // http(s)://host[:port][/prefix], at least one
  std::string region = "us-east-1";
  std::string availability_zone;        // empty: not reported
  std::string bucket;
  bool path_style = true;               // host/bucket/key; false: bucket.host/key (AWS style)
  std::string provider = "S3-compatible";  // for /service/storage-backends
  std::string store_product = "S3";
  bool default_storage = false;         // the target of POST /flows/{id}/storage without storage_id
  std::string access_key_id;            // never logged
  std::string secret_access_key;        // never logged
  int64_t timeout_ms = 5000;            // each server-side request (HEAD, DELETE, probe)
  int64_t health_check_ms = 5000;       // between probes of each endpoint
};

// Everything `tams serve` can be told. Plain data; copy freely.
//
// Each field has one key. In the TOML file the key is the field name (`page_limit_max = 5`); in
// the environment it is TAMS_ + the upper-cased name (TAMS_PAGE_LIMIT_MAX=5); flags are the
// documented subset in src/cli/main.cc (--listen, --data-dir, --config).
struct Config {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; [v6]:PORT accepted
  std::string data_dir = "./tams-data";   // created if missing
  std::vector<BasicUser> auth_basic;       // "user:pass[,user2:pass2]"
  std::vector<std::string> auth_tokens;    // "tok1[,tok2]"
  std::vector<std::string> cors_origins = {"*"};  // "*" or a comma list of origins
  int64_t page_limit_default = 100;        // 1 <= default <= max
  int64_t page_limit_max = 1000;
  int64_t max_body_bytes = 16 * 1024 * 1024;  // request bodies above this get 413
  int threads = 0;                         // HTTP worker threads; 0 = number of cores
  std::string log_level = "info";          // trace|debug|info|warn|error|off
  std::string public_url;                  // base URL for Link/Location; empty = from Host header
  int64_t media_max_object_bytes = 4LL << 30;  // larger media object uploads get 413
  int64_t media_url_expiry_seconds = 3600;     // lifetime of signed media URLs, 1 s to 7 days
  int64_t storage_limit_default = 10;   // objects per POST /flows/{id}/storage without a limit
  int64_t storage_limit_max = 1000;     // larger storage limits are reduced to this
  int64_t allocation_expiry_seconds = 86400;  // unregistered allocations are garbage after this
  bool check_uploads = true;            // refuse segments for allocated objects never uploaded
  int64_t delete_budget_ms = 500;       // DELETEs not finished by then continue as 202 requests
  int64_t deletion_request_expiry_seconds = 86400;  // finished deletion requests are kept this long
  int64_t gc_interval_seconds = 60;     // how often unreferenced media objects are collected
  // Background work (deletion requests, webhook deliveries, media byte deletions) is claimed
  // for this long and renewed while worked on; a crashed instance's items wait this long.
  int64_t job_lease_seconds = 30;
  // Webhooks (docs/architecture.md#webhooks). Receivers on loopback, private, link-local and
  // other non-public addresses are refused unless listed here: host names, IPs or CIDR blocks.
  std::vector<std::string> webhook_allowed_hosts;
  int64_t webhook_timeout_ms = 5000;     // connect and total time of one delivery attempt
  int64_t webhook_concurrency = 4;       // deliveries in flight at once (sender threads)
  int64_t webhook_max_attempts = 8;      // then the delivery is recorded as failed
  int64_t webhook_retry_base_ms = 1000;  // first retry delay; doubles per attempt, max 5 min
  // Scopes of basic users and static tokens: a comma list of tams-api/read, tams-api/write,
  // tams-api/delete, tams-api/admin (default all four).
  std::vector<std::string> auth_static_scopes = {"tams-api/read", "tams-api/write",
                                                 "tams-api/delete", "tams-api/admin"};
  // JWT bearer tokens (see docs/auth.md). Any of the first three switches them on.
  std::string jwt_hs256_secret;            // HS256 shared secret, at least 32 bytes
  std::string jwt_jwks_file;               // RS256/ES256 keys from this JWKS file ...
  std::string jwt_jwks_url;                // ... or this http(s) URL (not both)
  int64_t jwt_jwks_refresh_seconds = 300;  // how often the JWKS is read again
  std::string jwt_issuer;                  // when set, tokens' `iss` must equal it
  std::string jwt_audience;                // when set, tokens' `aud` must contain it
  int64_t jwt_clock_skew_seconds = 60;     // leeway for `exp` and `nbf`
  // Metadata database (docs/operations.md#postgresql). Empty: SQLite in data_dir.
  std::string db;                        // postgres:// or postgresql:// URI of the primary
  std::vector<std::string> db_replicas;  // URIs of streaming read replicas of it
  int64_t db_replica_max_lag_ms = 1000;  // replicas further behind are not read from
  int64_t db_read_primary_after_write_ms = 1000;  // read-your-writes window (0: off)
  // Storage backends. local_storage: "default" (the local store takes allocations without a
  // storage_id), "secondary" (offered, not the default) or "disabled"; left unset it is
  // "default" unless an S3 backend is marked default. Exactly one backend ends up default.
  std::string local_storage;
  std::vector<S3BackendConfig> s3_backends;
  // Observability and caches (docs/metrics.md, docs/architecture.md#caches).
  // Who may GET /metrics: "loopback" (clients on 127.0.0.0/8 or ::1 without credentials, others
  // with the read scope), "authenticated" (everybody with the read scope), "public" (anybody).
  std::string metrics_access = "loopback";
  int64_t cache_flows = 10000;            // flow documents cached (0: no cache)
  int64_t cache_sources = 10000;          // source documents cached (0: no cache)
  int64_t cache_segments = 20000;         // segments held in cached listing pages (0: no cache)
  int64_t cache_segment_page_max_age_ms = 2000;  // a cached page (and its signed URLs) is
                                                 // served for at most this long
};

// True when JWT bearer tokens are configured (a secret, a JWKS file or a JWKS URL).
inline bool jwt_configured(const Config& c) {
  return !c.jwt_hs256_secret.empty() || !c.jwt_jwks_file.empty() || !c.jwt_jwks_url.empty();
}

// A configuration problem; what() is one line naming the key and the problem, e.g.
// `page_limit_max: expected an integer >= 1, got "abc"`.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Overrides collected from the command line; unset fields leave the lower layers alone.
struct FlagOverrides {
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  std::optional<std::string> config_file;
  std::optional<std::string> db;
  std::optional<std::vector<std::string>> db_replicas;  // repeated --db-replica
};

// Builds the effective configuration from `flags.config_file` (when set; a missing or unreadable
// file, a TOML syntax error, an unknown key or a value of the wrong type is an error), then the
// TAMS_* variables in `environment` (unknown TAMS_* names are ignored: they may belong to other
// tools), then the flags, and validates the result. Throws ConfigError.
Config load(const FlagOverrides& flags, const std::map<std::string, std::string>& environment);

// The process environment as a map (for load()).
std::map<std::string, std::string> process_environment();

}  // namespace tams::config
