// tams: the command-line entry point. `tams serve` runs the server; `tams version` prints it.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "tams/api/media_api.h"
#include "tams/api/routes.h"
#include "tams/config/config.h"
#include "tams/core/flows.h"
#include "tams/core/health.h"
#include "tams/core/metadata_cache.h"
#include "tams/core/service.h"
#include "tams/core/sources.h"
#include "tams/http/app.h"
#include "tams/http/auth.h"
#include "tams/http/server.h"
#include "tams/jobs/background.h"
#include "tams/jobs/webhook_delivery.h"
#include "tams/media/backends.h"
#include "tams/media/local_media_store.h"
#include "tams/store/postgres/connection.h"
#include "tams/store/postgres/postgres_store.h"
#include "tams/media/s3/s3_media_store.h"
#include "tams/obs/metrics.h"
#include "tams/obs/process.h"
#include "tams/store/migrate/sqlite_to_postgres.h"
#include "tams/store/sqlite/sqlite_store.h"

#ifndef TAMS_VERSION
#define TAMS_VERSION "dev"
#endif

namespace fs = std::filesystem;

namespace {

constexpr const char* kAdminPasswordFile = "admin-password";

std::string random_password() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";  // no look-alikes
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string out;
  for (unsigned char b : bytes) out.push_back(kAlphabet[b % (sizeof kAlphabet - 1)]);
  return out;
}

// With no credentials configured, the store is still never open: the first start generates an
// admin password, keeps it (mode 0600) in the data dir and prints it once.
tams::config::BasicUser bootstrap_admin(const fs::path& data_dir, const std::string& listen) {
  const fs::path file = data_dir / kAdminPasswordFile;
  if (fs::exists(file)) {
    std::ifstream in(file);
    std::string password;
    std::getline(in, password);
    if (password.empty()) throw std::runtime_error(file.string() + " is empty");
    spdlog::info("no credentials configured; using the admin password kept in {}", file.string());
    return {"admin", password};
  }
  const std::string password = random_password();
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + file.string());
  const std::string line = password + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + file.string());
  std::cout << "\nNo credentials were configured, so tams generated an admin password.\n"
            << "It is kept in " << file.string() << " (readable only by you) and is shown once:\n\n"
            << "  user: admin\n  password: " << password << "\n\nTry it:\n\n"
            << "  curl -u 'admin:" << password << "' http://" << listen << "/service\n\n"
            << "Set TAMS_AUTH_BASIC or TAMS_AUTH_TOKENS to use your own credentials instead.\n"
            << std::endl;
  return {"admin", password};
}

// The metadata store the configuration names: PostgreSQL when `db` is set, else SQLite in the
// data dir.
std::unique_ptr<tams::store::MetadataStore> open_metadata_store(const tams::config::Config& cfg) {
  if (cfg.db.empty()) {
    return tams::store::sqlite::SqliteStore::open((fs::path(cfg.data_dir) / "tams.db").string());
  }
  tams::store::postgres::PostgresOptions options;
  options.primary = cfg.db;
  options.replicas = cfg.db_replicas;
  options.replica_max_lag_ms = cfg.db_replica_max_lag_ms;
  options.read_primary_after_write_ms = cfg.db_read_primary_after_write_ms;
  auto store = tams::store::postgres::PostgresStore::open(options);
  std::string replicas;
  for (const std::string& url : cfg.db_replicas) {
    replicas += (replicas.empty() ? "" : ", ") + tams::store::postgres::redact_url(url);
  }
  spdlog::info("metadata in PostgreSQL {}{}", tams::store::postgres::redact_url(cfg.db),
               replicas.empty() ? "" : " (read replicas: " + replicas + ")");
  return store;
}

std::pair<std::string, uint16_t> split_listen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)))};
}

int serve(const tams::config::FlagOverrides& flags) {
  tams::config::Config cfg;
  try {
    cfg = tams::config::load(flags, tams::config::process_environment());
  } catch (const tams::config::ConfigError& e) {
    std::cerr << "tams: configuration error: " << e.what() << std::endl;
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));

  std::error_code ec;
  fs::create_directories(cfg.data_dir, ec);
  if (ec) {
    std::cerr << "tams: data_dir: cannot create " << cfg.data_dir << ": " << ec.message()
              << std::endl;
    return 2;
  }
  auto users = cfg.auth_basic;
  if (users.empty() && cfg.auth_tokens.empty() && !tams::config::jwt_configured(cfg)) {
    users.push_back(bootstrap_admin(cfg.data_dir, cfg.listen));
  }

  auto store = open_metadata_store(cfg);
  tams::media::LocalMediaOptions media_options;
  media_options.url_expiry_seconds = cfg.media_url_expiry_seconds;
  media_options.max_object_bytes = static_cast<uint64_t>(cfg.media_max_object_bytes);
  auto media_store = tams::media::LocalMediaStore::open(cfg.data_dir, media_options);
  tams::media::Backends backends;
  if (cfg.local_storage != "disabled") {
    media_store->set_default_storage(cfg.local_storage == "default");
    backends.add(*media_store);
  }
  std::vector<std::unique_ptr<tams::media::s3::S3MediaStore>> s3_stores;
  for (const auto& b : cfg.s3_backends) {
    tams::media::s3::S3Options o;
    o.backend.id = b.id;
    o.backend.label = b.label;
    o.backend.provider = b.provider;
    o.backend.store_product = b.store_product;
    o.backend.region = b.region;
    o.backend.availability_zone = b.availability_zone;
    o.backend.default_storage = b.default_storage;
    o.endpoints = b.endpoints;
    o.bucket = b.bucket;
    o.path_style = b.path_style;
    o.credentials = {b.access_key_id, b.secret_access_key};
    o.url_expiry_seconds = cfg.media_url_expiry_seconds;
    o.timeout = std::chrono::milliseconds(b.timeout_ms);
    o.health_interval = std::chrono::milliseconds(b.health_check_ms);
    s3_stores.push_back(tams::media::s3::S3MediaStore::open(std::move(o)));
    backends.add(*s3_stores.back());
    spdlog::info("storage backend {} ({}): bucket {} at {} endpoint(s){}", b.label, b.id, b.bucket,
                 b.endpoints.size(), b.default_storage ? ", default" : "");
  }

  // Caches (docs/architecture.md#caches). A cached segment page's signed URLs are at most half
  // their lifetime old when served.
  tams::core::MetadataCacheOptions cache_options;
  cache_options.flows = static_cast<size_t>(cfg.cache_flows);
  cache_options.sources = static_cast<size_t>(cfg.cache_sources);
  cache_options.segments = static_cast<size_t>(cfg.cache_segments);
  cache_options.segment_page_max_age = std::min(
      std::chrono::milliseconds(cfg.cache_segment_page_max_age_ms),
      std::chrono::milliseconds(cfg.media_url_expiry_seconds * 1000 / 2));
  // Replicas further behind than the lag bound are not read from; the lag is estimated once a
  // second, so a change is on every replica read from within about the bound plus a second.
  if (!cfg.db_replicas.empty()) {
    cache_options.fill_from_primary_after_change =
        std::chrono::milliseconds(cfg.db_replica_max_lag_ms + 1000);
  }
  tams::core::MetadataCache cache(cache_options);
  // Other instances on the same database announce their changes (PostgreSQL LISTEN/NOTIFY).
  store->set_change_listener([&cache](const tams::store::Change& c) { cache.invalidate(c); });
  struct StopListening {  // before the cache goes, however serve() returns
    tams::store::MetadataStore& store;
    ~StopListening() { store.set_change_listener({}); }
  } stop_listening{*store};

  tams::core::Service service(*store, TAMS_VERSION, /*webhooks=*/true);
  tams::core::Sources sources(*store, &cache);
  tams::core::Flows flows(*store, &cache);
  tams::core::Segments segments(*store, backends, {cfg.check_uploads}, &cache);
  tams::core::Storage storage(*store, backends,
                              {cfg.storage_limit_default, cfg.storage_limit_max,
                               cfg.allocation_expiry_seconds});
  tams::core::Objects objects(*store);
  // One lease owner for all background work of this process (docs/architecture.md).
  const tams::core::JobLease lease{tams::core::new_lease_owner(),
                                   std::chrono::seconds(cfg.job_lease_seconds)};
  spdlog::info("background work is claimed as {} for {} s at a time", lease.owner,
               cfg.job_lease_seconds);
  tams::core::Deletions deletions(*store, flows,
                                  {std::chrono::milliseconds(cfg.delete_budget_ms), 1000,
                                   cfg.deletion_request_expiry_seconds, lease},
                                  &cache);
  tams::core::GarbageCollector garbage(*store, backends, lease);
  tams::jobs::Background background(deletions, garbage,
                                    {std::chrono::milliseconds(500),
                                     std::chrono::seconds(cfg.gc_interval_seconds)});

  tams::api::Deps deps{service,  sources,   flows,
                       segments, storage,   objects,
                       deletions, {cfg.page_limit_default, cfg.page_limit_max},
                       [&background] { background.nudge(); }};
  tams::http::Router router;
  // Webhooks: the allowlist was validated with the configuration.
  const auto url_policy = tams::core::UrlPolicy::parse(cfg.webhook_allowed_hosts);
  tams::core::Webhooks webhooks(*store, url_policy);
  tams::jobs::WebhookDeliveryOptions delivery_options;
  delivery_options.concurrency = static_cast<int>(cfg.webhook_concurrency);
  delivery_options.timeout = std::chrono::milliseconds(cfg.webhook_timeout_ms);
  delivery_options.max_attempts = cfg.webhook_max_attempts;
  delivery_options.retry_base = std::chrono::milliseconds(cfg.webhook_retry_base_ms);
  delivery_options.lease = lease;
  tams::jobs::WebhookDelivery webhook_delivery(
      *store, backends, tams::jobs::curl_sender(url_policy, delivery_options.timeout),
      delivery_options);
  store->set_event_listener([&webhook_delivery] { webhook_delivery.nudge(); });
  deps.webhooks = &webhooks;
  // Metrics (docs/metrics.md): what is counted elsewhere is read at scrape time.
  auto& metrics = tams::obs::Registry::global();
  tams::obs::register_process_metrics(metrics);
  metrics.callback_family(
      "tams_webhook_deliveries_total", "Webhook delivery outcomes.",
      tams::obs::MetricType::kCounter, {"outcome"}, [&webhook_delivery] {
        const auto c = webhook_delivery.counters();
        return std::vector<tams::obs::Registry::Sample>{
            {{"delivered"}, static_cast<double>(c.delivered)},
            {{"failed_attempt"}, static_cast<double>(c.failed_attempts)},
            {{"given_up"}, static_cast<double>(c.given_up)},
            {{"filtered"}, static_cast<double>(c.filtered)}};
      });
  metrics.callback_family(
      "tams_db_pool_connections", "Database connections by role and state.",
      tams::obs::MetricType::kGauge, {"endpoint", "role", "state"}, [&store] {
        std::vector<tams::obs::Registry::Sample> samples;
        for (const auto& p : store->pool_usage()) {
          samples.push_back({{p.endpoint, p.role, p.state}, static_cast<double>(p.count)});
        }
        return samples;
      });
  metrics.callback_family(
      "tams_stored", "What the metadata store holds (kept current by writes, never a scan).",
      tams::obs::MetricType::kGauge, {"kind"}, [&store] {
        tams::store::StoredCounts n;
        try {
          n = store->stored_counts();
        } catch (const std::exception& e) {  // /health/ready reports the database
          return std::vector<tams::obs::Registry::Sample>{};
        }
        return std::vector<tams::obs::Registry::Sample>{
            {{"segments"}, static_cast<double>(n.segments)},
            {{"flows"}, static_cast<double>(n.flows)},
            {{"sources"}, static_cast<double>(n.sources)}};
      });
  deps.metrics = [&metrics] { return metrics.expose(); };
  deps.metrics_access = cfg.metrics_access;
  tams::core::Health health(*store, backends);
  deps.health = &health;
  tams::api::add_routes(router, deps);
  if (cfg.local_storage != "disabled") tams::api::add_media_routes(router, *media_store);
  // JWT keys: a JWKS file must load at start; a JWKS URL that fails is retried in the background.
  std::shared_ptr<tams::http::jwt::JwksSource> jwks;
  if (!cfg.jwt_jwks_file.empty() || !cfg.jwt_jwks_url.empty()) {
    jwks = std::make_shared<tams::http::jwt::JwksSource>(tams::http::jwt::JwksSourceOptions{
        cfg.jwt_jwks_file, cfg.jwt_jwks_url, std::chrono::seconds(cfg.jwt_jwks_refresh_seconds)});
    try {
      jwks->load();
    } catch (const tams::http::jwt::JwksError& e) {
      if (cfg.jwt_jwks_url.empty()) {
        std::cerr << "tams: jwt_jwks_file: " << e.what() << std::endl;
        return 2;
      }
      spdlog::warn("{}; retrying every {} s", e.what(), cfg.jwt_jwks_refresh_seconds);
    }
    jwks->start();
  }
  tams::http::AuthOptions auth{users, cfg.auth_tokens, cfg.auth_static_scopes, nullptr};
  if (tams::config::jwt_configured(cfg)) {
    auth.jwt = std::make_shared<const tams::http::jwt::Verifier>(tams::http::jwt::VerifierOptions{
        cfg.jwt_hs256_secret, jwks, cfg.jwt_issuer, cfg.jwt_audience, cfg.jwt_clock_skew_seconds});
  }
  tams::http::App app(std::move(router), tams::http::Authenticator(std::move(auth)),
                      {cfg.cors_origins, cfg.public_url, &metrics});

  auto [host, port] = split_listen(cfg.listen);
  tams::http::ServerOptions options;
  options.host = host;
  options.port = port;
  options.threads = cfg.threads > 0 ? cfg.threads
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.max_body_bytes = static_cast<uint64_t>(cfg.max_body_bytes);
  tams::http::Server server(app, options);
  server.listen();
  spdlog::info("tams {} serving TAMS 7.0 on http://{}:{} (data in {}, {} threads)", TAMS_VERSION,
               host, server.port(), cfg.data_dir, options.threads);
  background.start();
  webhook_delivery.start();
  server.run();
  if (jwks) jwks->stop();
  background.stop();
  webhook_delivery.stop();
  store->set_event_listener({});
  for (const char* name : {"tams_webhook_deliveries_total", "tams_db_pool_connections",
                           "tams_stored"}) {
    metrics.remove_callback(name);
  }
  spdlog::info("tams stopped");
  return 0;
}

// `tams migrate --from sqlite:DIR --to postgres://...`: 0 when copied and verified, 2 for bad
// arguments, 1 when the migration failed (nothing committed).
int migrate(const std::string& from, const std::string& to) {
  if (!from.starts_with("sqlite:") || from.size() == 7) {
    std::cerr << "tams migrate: --from must be sqlite:DATA_DIR, got " << from << std::endl;
    return 2;
  }
  if (!to.starts_with("postgres://") && !to.starts_with("postgresql://")) {
    std::cerr << "tams migrate: --to must be a postgres:// URI" << std::endl;
    return 2;
  }
  const fs::path data_dir = from.substr(7);
  const std::string target = tams::store::postgres::redact_url(to);
  try {
    const auto tables = tams::store::migrate::copy_sqlite_to_postgres(
        (data_dir / "tams.db").string(), to, [](const tams::store::migrate::CopiedTable& t) {
          std::cout << fmt::format("  {:<20} {:>12} rows", t.name, t.rows) << std::endl;
        });
    std::cout << "Copied " << tables.size() << " tables from " << (data_dir / "tams.db").string()
              << " to " << target << " and checked every row count.\n"
              << "Media objects were not moved: serve with --data-dir " << data_dir.string()
              << " --db <the same URI> so the local media store is found again." << std::endl;
    return 0;
  } catch (const tams::store::migrate::MigrateError& e) {
    std::cerr << "tams migrate: " << e.what() << " (nothing was committed to " << target << ")"
              << std::endl;
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("tams"));
  CLI::App cli{"tams: a Time-addressable Media Store (TAMS API 7.0)"};
  cli.require_subcommand(1);

  tams::config::FlagOverrides flags;
  auto* serve_cmd = cli.add_subcommand("serve", "Run the TAMS server");
  serve_cmd->add_option_function<std::string>(
      "--listen", [&](const std::string& v) { flags.listen = v; },
      "HOST:PORT to listen on (default 127.0.0.1:8080)");
  serve_cmd->add_option_function<std::string>(
      "--data-dir", [&](const std::string& v) { flags.data_dir = v; },
      "Directory for the database and media (default ./tams-data)");
  serve_cmd->add_option_function<std::string>(
      "--config", [&](const std::string& v) { flags.config_file = v; }, "TOML configuration file");
  serve_cmd->add_option_function<std::string>(
      "--db", [&](const std::string& v) { flags.db = v; },
      "PostgreSQL URI of the metadata database (default: SQLite in the data dir)");
  serve_cmd->add_option_function<std::string>(
      "--db-replica",
      [&](const std::string& v) {
        if (!flags.db_replicas) flags.db_replicas.emplace();
        flags.db_replicas->push_back(v);
      },
      "PostgreSQL URI of a read replica (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* version_cmd = cli.add_subcommand("version", "Print the version");
  std::string migrate_from, migrate_to;
  auto* migrate_cmd = cli.add_subcommand(
      "migrate", "Copy an embedded store's metadata into an empty PostgreSQL database");
  migrate_cmd->add_option("--from", migrate_from, "sqlite:DATA_DIR (the embedded store)")
      ->required();
  migrate_cmd->add_option("--to", migrate_to, "postgres://... (an empty database)")->required();

  CLI11_PARSE(cli, argc, argv);
  try {
    if (serve_cmd->parsed()) return serve(flags);
    if (migrate_cmd->parsed()) return migrate(migrate_from, migrate_to);
    if (version_cmd->parsed()) {
      std::cout << "tams " << TAMS_VERSION << " (TAMS API 7.0)" << std::endl;
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "tams: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
