#include "tams/config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tams::config {
namespace {

using Env = std::map<std::string, std::string>;

// A fresh mkdtemp directory per test, removed afterwards.
class ConfigLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "tams_config_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `content` to <dir>/<name> and returns the path.
  std::string write(const std::string& content, const std::string& name = "tams.toml") {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  Config load_file(const std::string& content, const Env& env = {}) {
    FlagOverrides flags;
    flags.config_file = write(content);
    return load(flags, env);
  }

  std::filesystem::path dir_;
};

// The ConfigError message of `fn`, or a failure when it does not throw one.
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    return message;
  }
  ADD_FAILURE() << "no ConfigError";
  return "";
}

// One field of a Config as text, so that tables can say what they expect.
std::string render(const Config& c, const std::string& key) {
  auto join = [](const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : "|") + item;
    return out;
  };
  if (key == "listen") return c.listen;
  if (key == "data_dir") return c.data_dir;
  if (key == "auth_basic") {
    std::vector<std::string> users;
    for (const auto& u : c.auth_basic) users.push_back(u.name + "=" + u.password);
    return join(users);
  }
  if (key == "auth_tokens") return join(c.auth_tokens);
  if (key == "cors_origins") return join(c.cors_origins);
  if (key == "page_limit_default") return std::to_string(c.page_limit_default);
  if (key == "page_limit_max") return std::to_string(c.page_limit_max);
  if (key == "max_body_bytes") return std::to_string(c.max_body_bytes);
  if (key == "threads") return std::to_string(c.threads);
  if (key == "log_level") return c.log_level;
  if (key == "public_url") return c.public_url;
  if (key == "media_max_object_bytes") return std::to_string(c.media_max_object_bytes);
  if (key == "media_url_expiry_seconds") return std::to_string(c.media_url_expiry_seconds);
  if (key == "auth_static_scopes") return join(c.auth_static_scopes);
  if (key == "jwt_hs256_secret") return c.jwt_hs256_secret;
  if (key == "jwt_jwks_file") return c.jwt_jwks_file;
  if (key == "jwt_jwks_url") return c.jwt_jwks_url;
  if (key == "jwt_jwks_refresh_seconds") return std::to_string(c.jwt_jwks_refresh_seconds);
  if (key == "jwt_issuer") return c.jwt_issuer;
  if (key == "jwt_audience") return c.jwt_audience;
  if (key == "jwt_clock_skew_seconds") return std::to_string(c.jwt_clock_skew_seconds);
  if (key == "webhook_allowed_hosts") return join(c.webhook_allowed_hosts);
  if (key == "webhook_timeout_ms") return std::to_string(c.webhook_timeout_ms);
  if (key == "webhook_concurrency") return std::to_string(c.webhook_concurrency);
  if (key == "webhook_max_attempts") return std::to_string(c.webhook_max_attempts);
  if (key == "webhook_retry_base_ms") return std::to_string(c.webhook_retry_base_ms);
  if (key == "db") return c.db;
  if (key == "db_replicas") return join(c.db_replicas);
  if (key == "db_replica_max_lag_ms") return std::to_string(c.db_replica_max_lag_ms);
  if (key == "db_read_primary_after_write_ms") {
    return std::to_string(c.db_read_primary_after_write_ms);
  }
  if (key == "job_lease_seconds") return std::to_string(c.job_lease_seconds);
  ADD_FAILURE() << "unknown key " << key;
  return "";
}

std::string env_name(std::string key) {
  for (char& ch : key) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return "TAMS_" + key;
}

// ---------------------------------------------------------------------------------------------
// Defaults.

TEST_F(ConfigLoadTest, DefaultsWithoutFileOrEnvironment) {
  Config c = load({}, {{"PATH", "/bin"}, {"TAMS_SOMETHING_ELSE", "x"}, {"TAMS_", ""}});
  Config expected;
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.data_dir, "./tams-data");
  EXPECT_TRUE(c.auth_basic.empty());
  EXPECT_TRUE(c.auth_tokens.empty());
  EXPECT_EQ(c.cors_origins, std::vector<std::string>{"*"});
  EXPECT_EQ(c.page_limit_default, 100);
  EXPECT_EQ(c.page_limit_max, 1000);
  EXPECT_EQ(c.max_body_bytes, 16 * 1024 * 1024);
  EXPECT_EQ(c.threads, 0);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.public_url, "");
  EXPECT_EQ(c.media_max_object_bytes, 4LL * 1024 * 1024 * 1024);
  EXPECT_EQ(c.media_url_expiry_seconds, 3600);
  EXPECT_EQ(c.auth_static_scopes, (std::vector<std::string>{"tams-api/read", "tams-api/write",
                                                            "tams-api/delete", "tams-api/admin"}));
  EXPECT_EQ(c.jwt_hs256_secret, "");
  EXPECT_EQ(c.jwt_jwks_file, "");
  EXPECT_EQ(c.jwt_jwks_url, "");
  EXPECT_EQ(c.jwt_jwks_refresh_seconds, 300);
  EXPECT_EQ(c.jwt_issuer, "");
  EXPECT_EQ(c.jwt_audience, "");
  EXPECT_EQ(c.jwt_clock_skew_seconds, 60);
  EXPECT_FALSE(jwt_configured(c));
  EXPECT_TRUE(c.webhook_allowed_hosts.empty());
  EXPECT_EQ(c.webhook_timeout_ms, 5000);
  EXPECT_EQ(c.webhook_concurrency, 4);
  EXPECT_EQ(c.webhook_max_attempts, 8);
  EXPECT_EQ(c.webhook_retry_base_ms, 1000);
  EXPECT_EQ(c.job_lease_seconds, 30);
  for (const char* key :
       {"listen", "data_dir", "auth_basic", "auth_tokens", "cors_origins", "page_limit_default",
        "page_limit_max", "max_body_bytes", "threads", "log_level", "public_url",
        "media_max_object_bytes", "media_url_expiry_seconds", "auth_static_scopes",
        "jwt_hs256_secret", "jwt_jwks_file", "jwt_jwks_url", "jwt_jwks_refresh_seconds",
        "jwt_issuer", "jwt_audience", "jwt_clock_skew_seconds", "webhook_allowed_hosts",
        "webhook_timeout_ms", "webhook_concurrency", "webhook_max_attempts",
        "webhook_retry_base_ms", "job_lease_seconds"}) {
    EXPECT_EQ(render(c, key), render(expected, key)) << key;
  }
}

TEST_F(ConfigLoadTest, EmptyFileGivesDefaults) {
  Config c = load_file("# nothing here\n");
  EXPECT_EQ(c.listen, Config{}.listen);
  EXPECT_EQ(c.page_limit_max, Config{}.page_limit_max);
}

// ---------------------------------------------------------------------------------------------
// Every key from each layer.

struct KeyCase {
  std::string key;
  std::string toml;       // right-hand side in the file
  std::string from_file;  // render() after loading the file
  std::string env;        // TAMS_ value
  std::string from_env;   // render() after loading the environment
};

const KeyCase kKeyCases[] = {
    {"listen", R"("0.0.0.0:9000")", "0.0.0.0:9000", "[::1]:9001", "[::1]:9001"},
    {"data_dir", R"("/srv/tams")", "/srv/tams", "/var/tams", "/var/tams"},
    {"auth_basic", R"("alice:pw1")", "alice=pw1", "bob:pw2,carol:pw3", "bob=pw2|carol=pw3"},
    {"auth_tokens", R"(["t1", "t2"])", "t1|t2", "t3", "t3"},
    {"cors_origins", R"("https://a.example")", "https://a.example",
     "http://b.example:8080, https://c.example", "http://b.example:8080|https://c.example"},
    {"page_limit_default", "7", "7", "8", "8"},
    {"page_limit_max", "700", "700", "800", "800"},
    {"max_body_bytes", "2048", "2048", "4096", "4096"},
    {"threads", "3", "3", "4", "4"},
    {"log_level", R"("debug")", "debug", "warn", "warn"},
    {"public_url", R"("https://tams.example/api/")", "https://tams.example/api",
     "http://localhost:8080", "http://localhost:8080"},
    {"media_max_object_bytes", "1_000_000", "1000000", "1", "1"},
    {"media_url_expiry_seconds", "60", "60", "604800", "604800"},
    {"auth_static_scopes", R"(["tams-api/read", "tams-api/write"])", "tams-api/read|tams-api/write",
     "tams-api/read, tams-api/read,tams-api/admin", "tams-api/read|tams-api/admin"},
    {"jwt_hs256_secret", R"("0123456789abcdef0123456789abcdef")",
     "0123456789abcdef0123456789abcdef", "a-secret-of-exactly-32-bytes-xyz",
     "a-secret-of-exactly-32-bytes-xyz"},
    {"jwt_jwks_file", R"("/etc/tams/jwks.json")", "/etc/tams/jwks.json", "jwks.json", "jwks.json"},
    {"jwt_jwks_url", R"("https://idp.example/realms/media/protocol/openid-connect/certs")",
     "https://idp.example/realms/media/protocol/openid-connect/certs",
     "http://127.0.0.1:8081/jwks?x=1", "http://127.0.0.1:8081/jwks?x=1"},
    {"jwt_jwks_refresh_seconds", "60", "60", "1", "1"},
    {"jwt_issuer", R"("https://idp.example/realms/media")", "https://idp.example/realms/media",
     "urn:issuer", "urn:issuer"},
    {"jwt_audience", R"("tams")", "tams", "api://tams", "api://tams"},
    {"jwt_clock_skew_seconds", "0", "0", "3600", "3600"},
    {"webhook_allowed_hosts", R"(["127.0.0.1", "10.0.0.0/8", "hooks.internal"])",
     "127.0.0.1|10.0.0.0/8|hooks.internal", "::1, fd00::/8,localhost", "::1|fd00::/8|localhost"},
    {"webhook_timeout_ms", "100", "100", "600000", "600000"},
    {"webhook_concurrency", "1", "1", "256", "256"},
    {"webhook_max_attempts", "1", "1", "1000", "1000"},
    {"webhook_retry_base_ms", "1", "1", "3600000", "3600000"},
    {"db", R"("postgres://u:p@db/tams")", "postgres://u:p@db/tams", "postgresql://db2/x",
     "postgresql://db2/x"},
    {"db_replicas", R"(["postgres://r1/t", "postgres://r2/t"])", "postgres://r1/t|postgres://r2/t",
     "postgres://r1/t,postgres://r2/t", "postgres://r1/t|postgres://r2/t"},
    {"db_replica_max_lag_ms", "0", "0", "3600000", "3600000"},
    {"db_read_primary_after_write_ms", "0", "0", "250", "250"},
    {"job_lease_seconds", "2", "2", "3600", "3600"},
};

TEST_F(ConfigLoadTest, EachKeyFromFile) {
  for (const auto& k : kKeyCases) {
    SCOPED_TRACE(k.key);
    EXPECT_EQ(render(load_file(k.key + " = " + k.toml + "\n"), k.key), k.from_file);
  }
}

TEST_F(ConfigLoadTest, EachKeyFromEnvironment) {
  for (const auto& k : kKeyCases) {
    SCOPED_TRACE(k.key);
    EXPECT_EQ(render(load({}, {{env_name(k.key), k.env}}), k.key), k.from_env);
  }
}

TEST_F(ConfigLoadTest, EnvironmentOverridesFile) {
  for (const auto& k : kKeyCases) {
    SCOPED_TRACE(k.key);
    EXPECT_EQ(render(load_file(k.key + " = " + k.toml + "\n", {{env_name(k.key), k.env}}), k.key),
              k.from_env);
  }
}

TEST_F(ConfigLoadTest, FlagsOverrideFileAndEnvironment) {
  FlagOverrides flags;
  flags.config_file = write("listen = \"10.0.0.1:1\"\ndata_dir = \"/file\"\n");
  Env env = {{"TAMS_LISTEN", "10.0.0.2:2"}, {"TAMS_DATA_DIR", "/env"}};
  flags.listen = "10.0.0.3:3";
  flags.data_dir = "/flag";
  Config c = load(flags, env);
  EXPECT_EQ(c.listen, "10.0.0.3:3");
  EXPECT_EQ(c.data_dir, "/flag");
}

TEST_F(ConfigLoadTest, UnsetFlagsLeaveLowerLayersAlone) {
  FlagOverrides flags;
  flags.config_file = write("listen = \"10.0.0.1:1\"\n");
  Config c = load(flags, {{"TAMS_DATA_DIR", "/env"}});
  EXPECT_EQ(c.listen, "10.0.0.1:1");
  EXPECT_EQ(c.data_dir, "/env");
}

TEST_F(ConfigLoadTest, LayersMixPerKey) {
  Config c = load_file("threads = 2\nlog_level = \"error\"\n", {{"TAMS_THREADS", "5"}});
  EXPECT_EQ(c.threads, 5);
  EXPECT_EQ(c.log_level, "error");
  EXPECT_EQ(c.page_limit_max, 1000);
}

// ---------------------------------------------------------------------------------------------
// Lists.

struct ListCase {
  std::string key;
  std::string toml;
  std::string expected;
};

TEST_F(ConfigLoadTest, ListsFromFileAsStringOrArray) {
  const ListCase cases[] = {
      {"auth_tokens", R"("a,b")", "a|b"},
      {"auth_tokens", R"(" a , b ")", "a|b"},
      {"auth_tokens", R"(["a", "b"])", "a|b"},
      {"auth_tokens", R"("")", ""},
      {"auth_tokens", "[]", ""},
      {"auth_basic", R"("u1:p1,u2:p2")", "u1=p1|u2=p2"},
      {"auth_basic", R"(["u1:p:1", "u2:p,2"])", "u1=p:1|u2=p,2"},
      {"cors_origins", R"("*")", "*"},
      {"cors_origins", R"(["http://a.example", "http://[::1]:3000"])",
       "http://a.example|http://[::1]:3000"},
      {"cors_origins", "[]", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key + " = " + c.toml);
    EXPECT_EQ(render(load_file(c.key + " = " + c.toml + "\n"), c.key), c.expected);
  }
}

TEST_F(ConfigLoadTest, ListsFromEnvironmentAreCommaSeparated) {
  const ListCase cases[] = {
      {"auth_tokens", "a,b", "a|b"},
      {"auth_tokens", " a ,\tb ", "a|b"},
      {"auth_tokens", "", ""},
      {"auth_basic", "u1:p:1,u2:p2", "u1=p:1|u2=p2"},
      {"cors_origins", "", ""},
      {"cors_origins", "http://a.example,https://b.example:8443",
       "http://a.example|https://b.example:8443"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key + "=" + c.toml);
    EXPECT_EQ(render(load({}, {{env_name(c.key), c.toml}}), c.key), c.expected);
  }
}

TEST_F(ConfigLoadTest, EmptyEnvironmentListClearsFileList) {
  Config c = load_file("auth_tokens = [\"a\"]\n", {{"TAMS_AUTH_TOKENS", ""}});
  EXPECT_TRUE(c.auth_tokens.empty());
}

TEST_F(ConfigLoadTest, BasicUserSplitsAtFirstColon) {
  Config c = load({}, {{"TAMS_AUTH_BASIC", "alice:pa:ss:word"}});
  ASSERT_EQ(c.auth_basic.size(), 1u);
  EXPECT_EQ(c.auth_basic[0].name, "alice");
  EXPECT_EQ(c.auth_basic[0].password, "pa:ss:word");
}

// ---------------------------------------------------------------------------------------------
// Accepted and normalized values.

TEST_F(ConfigLoadTest, AcceptedListenForms) {
  for (const char* listen : {"0.0.0.0:80", "localhost:8080", "tams-1.example.com:65535",
                             "[::1]:8080", "[::]:1", "[2001:db8::1]:443", "host_x:08080"}) {
    EXPECT_EQ(load({}, {{"TAMS_LISTEN", listen}}).listen, listen);
  }
}

TEST_F(ConfigLoadTest, AcceptedIntegerBounds) {
  const std::pair<std::string, std::string> cases[] = {
      {"TAMS_THREADS", "0"},
      {"TAMS_THREADS", "1024"},
      {"TAMS_MAX_BODY_BYTES", "1024"},
      {"TAMS_PAGE_LIMIT_MAX", "9223372036854775807"},
      {"TAMS_PAGE_LIMIT_DEFAULT", "1"},
  };
  for (const auto& [name, value] : cases) {
    EXPECT_NO_THROW(load({}, {{name, value}})) << name << "=" << value;
  }
}

TEST_F(ConfigLoadTest, TomlIntegerSyntaxes) {
  EXPECT_EQ(load_file("max_body_bytes = 1_048_576\n").max_body_bytes, 1048576);
  EXPECT_EQ(load_file("max_body_bytes = 0x10000\n").max_body_bytes, 65536);
  EXPECT_EQ(load_file("page_limit_max = 9223372036854775807\n").page_limit_max,
            9223372036854775807);
}

TEST_F(ConfigLoadTest, LogLevelIsCaseInsensitive) {
  EXPECT_EQ(load({}, {{"TAMS_LOG_LEVEL", "WARN"}}).log_level, "warn");
  for (const char* level : {"trace", "debug", "info", "warn", "error", "off"}) {
    EXPECT_EQ(load({}, {{"TAMS_LOG_LEVEL", level}}).log_level, level);
  }
}

TEST_F(ConfigLoadTest, PublicUrlLosesOneTrailingSlash) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"http://a.example", "http://a.example"},
      {"http://a.example/", "http://a.example"},
      {"https://a.example:8443/tams/", "https://a.example:8443/tams"},
      {"HTTPS://A.example", "HTTPS://A.example"},
      {"http://[::1]:8080/", "http://[::1]:8080"},
  };
  for (const auto& [in, out] : cases) {
    EXPECT_EQ(load({}, {{"TAMS_PUBLIC_URL", in}}).public_url, out) << in;
  }
}

TEST_F(ConfigLoadTest, PageLimitDefaultMayEqualMax) {
  Config c = load({}, {{"TAMS_PAGE_LIMIT_DEFAULT", "5"}, {"TAMS_PAGE_LIMIT_MAX", "5"}});
  EXPECT_EQ(c.page_limit_default, 5);
  EXPECT_EQ(c.page_limit_max, 5);
}

// ---------------------------------------------------------------------------------------------
// Validation errors name the key and where it came from.

struct BadValue {
  std::string key;
  std::string env;      // value in the environment
  std::string toml;     // the same problem in the file, or "" to skip the file
  std::string problem;  // expected in the message
};

const BadValue kBadValues[] = {
    {"listen", "8080", R"("8080")", "expected HOST:PORT"},
    {"listen", ":8080", R"(":8080")", "expected HOST:PORT"},
    {"listen", "host:0", R"("host:0")", "expected HOST:PORT"},
    {"listen", "host:65536", R"("host:65536")", "expected HOST:PORT"},
    {"listen", "host:", "", "expected HOST:PORT"},
    {"listen", "host:80x", "", "expected HOST:PORT"},
    {"listen", "::1:8080", "", "expected HOST:PORT"},
    {"listen", "[::1]", "", "expected HOST:PORT"},
    {"listen", "[]:80", "", "expected HOST:PORT"},
    {"listen", "ho st:80", "", "expected HOST:PORT"},
    {"data_dir", "", R"("")", "must not be empty"},
    {"page_limit_default", "0", "0", "expected an integer >= 1, got 0"},
    {"page_limit_default", "abc", "", R"(expected an integer >= 1, got "abc")"},
    {"page_limit_max", "abc", "", R"(expected an integer >= 1, got "abc")"},
    {"page_limit_max", "-1", "-1", "expected an integer >= 1, got -1"},
    {"page_limit_max", "12abc", "", R"(got "12abc")"},
    {"page_limit_max", "", "", R"(got "")"},
    {"page_limit_max", " 5", "", R"(got " 5")"},
    {"page_limit_max", "+5", "", R"(got "+5")"},
    {"page_limit_max", "0x10", "", R"(got "0x10")"},
    {"page_limit_max", "1e3", "", R"(got "1e3")"},
    {"page_limit_max", "5.0", "", R"(got "5.0")"},
    {"page_limit_max", "99999999999999999999", "99999999999999999999", "got"},
    {"max_body_bytes", "1023", "1023", "expected an integer >= 1024, got 1023"},
    {"threads", "-1", "-1", "expected an integer from 0 to 1024, got -1"},
    {"threads", "1025", "1025", "expected an integer from 0 to 1024, got 1025"},
    {"threads", "99999999999", "", "expected an integer from 0 to 1024"},
    {"log_level", "verbose", R"("verbose")",
     R"(expected one of trace, debug, info, warn, error, off, got "verbose")"},
    {"log_level", "", "", "expected one of"},
    {"cors_origins", "a.example", R"(["a.example"])", "expected \"*\" or scheme://host[:port]"},
    {"cors_origins", "http://a.example/", "", "without a path"},
    {"cors_origins", "http://a.example/x", "", "without a path"},
    {"cors_origins", "http://", "", "without a path"},
    {"cors_origins", "://a.example", "", "without a path"},
    {"cors_origins", "http://a.example:0", "", "without a path"},
    {"cors_origins", "*,", R"("*,")", "empty origin (entry 2)"},
    {"public_url", "ftp://a.example", R"("ftp://a.example")", "expected an http:// or https://"},
    {"public_url", "a.example", "", "expected an http:// or https://"},
    {"public_url", "http://", "", "expected http(s)://host[:port][/path]"},
    {"public_url", "http:///x", "", "expected http(s)://host[:port][/path]"},
    {"public_url", "http://a.example//", "", "must not end with '/'"},
    {"public_url", "http://a.example/?q=1", "", "must not contain a query"},
    {"public_url", "http://a.example/#f", "", "must not contain a query"},
    {"public_url", "http://a.example/a b", "", "must not contain a query"},
    {"public_url", "http://a.example/a\nb", "", R"(got "http://a.example/a\x0ab")"},
    {"auth_basic", "alice", R"(["alice"])", "entry 1 is not user:password"},
    {"auth_basic", ":pw", "", "entry 1 has an empty user name"},
    {"auth_basic", "a:1,,b:2", "", "entry 2 is empty"},
    {"auth_basic", "alice:", "", R"(user "alice" has an empty password)"},
    {"auth_tokens", "a,,b", R"(["a", ""])", "empty token (entry 2)"},
    {"auth_tokens", "a,", "", "empty token (entry 2)"},
    {"media_max_object_bytes", "0", "0", "expected an integer >= 1, got 0"},
    {"media_max_object_bytes", "4GiB", "", R"(expected an integer >= 1, got "4GiB")"},
    {"media_url_expiry_seconds", "0", "0", "expected an integer from 1 to 604800, got 0"},
    {"media_url_expiry_seconds", "604801", "604801", "expected an integer from 1 to 604800"},
    {"auth_static_scopes", "tams-api/root", R"(["tams-api/root"])",
     R"(expected tams-api/read, tams-api/write, tams-api/delete or tams-api/admin, got "tams-api/root")"},
    {"auth_static_scopes", "read", "", R"(got "read")"},
    {"auth_static_scopes", "tams-api/read,,tams-api/write", R"(["tams-api/read", ""])",
     "empty scope (entry 2)"},
    {"jwt_hs256_secret", "short", R"("short")",
     "must be at least 32 bytes (256 bits), got 5 bytes"},
    {"jwt_hs256_secret", std::string(31, 'x'), "", "got 31 bytes"},
    {"jwt_jwks_file", "a\nb", R"("a\nb")", R"(must not contain control characters, got "a\x0ab")"},
    {"jwt_jwks_url", "ftp://idp.example/certs", R"("ftp://idp.example/certs")",
     "expected an http:// or https:// URL"},
    {"jwt_jwks_url", "idp.example/certs", "", "expected an http:// or https:// URL"},
    {"jwt_jwks_url", "https:///certs", "", "expected http(s)://host[:port]/path"},
    {"jwt_jwks_url", "https://idp.example/a b", "", "must not contain a fragment, blanks"},
    {"jwt_jwks_url", "https://idp.example/certs#x", "", "must not contain a fragment, blanks"},
    {"jwt_jwks_url", "https://u:pw@idp.example/certs", "", "must not contain user information"},
    {"jwt_jwks_refresh_seconds", "0", "0", "expected an integer from 1 to 604800, got 0"},
    {"jwt_jwks_refresh_seconds", "5m", "", R"(got "5m")"},
    {"jwt_issuer", "https://idp\x01", R"("a\u0001")", "must not contain control characters"},
    {"jwt_audience", "a\tb", R"("a\tb")", "must not contain control characters"},
    {"jwt_clock_skew_seconds", "-1", "-1", "expected an integer from 0 to 3600, got -1"},
    {"jwt_clock_skew_seconds", "3601", "3601", "expected an integer from 0 to 3600, got 3601"},
    {"webhook_allowed_hosts", "127.0.0.1,,::1", R"(["127.0.0.1", ""])", "empty entry (entry 2)"},
    {"webhook_allowed_hosts", "10.0.0.0/33", R"(["10.0.0.0/33"])",
     R"(expected a host name, an IP address or a CIDR block, got "10.0.0.0/33")"},
    {"webhook_allowed_hosts", "fd00::/129", "", R"(got "fd00::/129")"},
    {"webhook_allowed_hosts", "hooks.internal/8", "", R"(got "hooks.internal/8")"},
    {"webhook_allowed_hosts", "10.0.0.0/", "", R"(got "10.0.0.0/")"},
    {"webhook_allowed_hosts", "http://hooks.internal", "", R"(got "http://hooks.internal")"},
    {"webhook_allowed_hosts", "[::1]", "", R"(got "[::1]")"},
    {"webhook_allowed_hosts", "a b", "", R"(got "a b")"},
    {"webhook_timeout_ms", "99", "99", "expected an integer from 100 to 600000, got 99"},
    {"webhook_concurrency", "0", "0", "expected an integer from 1 to 256, got 0"},
    {"webhook_concurrency", "257", "", "expected an integer from 1 to 256, got 257"},
    {"webhook_max_attempts", "0", "0", "expected an integer from 1 to 1000, got 0"},
    {"webhook_retry_base_ms", "0", "0", "expected an integer from 1 to 3600000, got 0"},
    {"job_lease_seconds", "1", "1", "expected an integer from 2 to 3600, got 1"},
    {"job_lease_seconds", "3601", "", "expected an integer from 2 to 3600, got 3601"},
};

TEST_F(ConfigLoadTest, BadEnvironmentValuesNameTheVariable) {
  for (const auto& b : kBadValues) {
    SCOPED_TRACE(b.key + "=" + b.env);
    std::string message = error_of([&] { load({}, {{env_name(b.key), b.env}}); });
    EXPECT_EQ(message.rfind(env_name(b.key) + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(b.problem), std::string::npos) << message;
  }
}

TEST_F(ConfigLoadTest, BadFileValuesNameTheFileAndKey) {
  for (const auto& b : kBadValues) {
    if (b.toml.empty()) continue;
    SCOPED_TRACE(b.key + " = " + b.toml);
    FlagOverrides flags;
    flags.config_file = write(b.key + " = " + b.toml + "\n");
    std::string message = error_of([&] { load(flags, {}); });
    EXPECT_EQ(message.rfind("config file " + *flags.config_file + ": " + b.key + ": ", 0), 0u)
        << message;
    EXPECT_NE(message.find(b.problem), std::string::npos) << message;
  }
}

TEST_F(ConfigLoadTest, BadFlagsNameTheFlag) {
  FlagOverrides listen;
  listen.listen = "nope";
  EXPECT_EQ(error_of([&] { load(listen, {}); }).rfind("--listen: expected HOST:PORT", 0), 0u);
  FlagOverrides data_dir;
  data_dir.data_dir = "";
  EXPECT_EQ(error_of([&] { load(data_dir, {}); }), "--data-dir: must not be empty");
  FlagOverrides config;
  config.config_file = "";
  EXPECT_NE(error_of([&] { load(config, {}); }).find("--config"), std::string::npos);
}

TEST_F(ConfigLoadTest, ExactMessageForEnvironmentInteger) {
  EXPECT_EQ(error_of([] {
              load({}, {{"TAMS_PAGE_LIMIT_MAX", "abc"}});
            }),
            R"(TAMS_PAGE_LIMIT_MAX: expected an integer >= 1, got "abc")");
}

TEST_F(ConfigLoadTest, BadFileValueIsAnErrorEvenWhenOverridden) {
  std::string message = error_of([&] { load_file("threads = 5000\n", {{"TAMS_THREADS", "1"}}); });
  EXPECT_NE(message.find(": threads: "), std::string::npos) << message;
}

TEST_F(ConfigLoadTest, PageLimitDefaultAboveMaxBlamesTheHigherLayer) {
  // Both from the environment: the default is blamed.
  std::string both = error_of([] {
    load({}, {{"TAMS_PAGE_LIMIT_DEFAULT", "50"}, {"TAMS_PAGE_LIMIT_MAX", "10"}});
  });
  EXPECT_EQ(both,
            "TAMS_PAGE_LIMIT_DEFAULT: expected an integer <= page_limit_max (10, from "
            "TAMS_PAGE_LIMIT_MAX), got 50");
  // Max lowered below the built-in default: the default follows it down (no error).
  Config lowered = load({}, {{"TAMS_PAGE_LIMIT_MAX", "10"}});
  EXPECT_EQ(lowered.page_limit_max, 10);
  EXPECT_EQ(lowered.page_limit_default, 10);
  // Default from the environment, max from the file.
  FlagOverrides flags;
  flags.config_file = write("page_limit_max = 10\n");
  std::string mixed = error_of([&] { load(flags, {{"TAMS_PAGE_LIMIT_DEFAULT", "20"}}); });
  EXPECT_EQ(
      mixed,
      "TAMS_PAGE_LIMIT_DEFAULT: expected an integer <= page_limit_max (10, from config file " +
          *flags.config_file + "), got 20");
  // Default from the file, max built in: the file's key is blamed.
  flags.config_file = write("page_limit_default = 2000\n");
  EXPECT_EQ(error_of([&] { load(flags, {}); }), "config file " + *flags.config_file +
                                                    ": page_limit_default: expected an integer <= "
                                                    "page_limit_max (1000, the default), got 2000");
}

TEST_F(ConfigLoadTest, JwksFileAndUrlAreExclusive) {
  EXPECT_EQ(error_of([] {
              load({}, {{"TAMS_JWT_JWKS_FILE", "/k.json"}, {"TAMS_JWT_JWKS_URL", "http://i/k"}});
            }),
            "TAMS_JWT_JWKS_URL: cannot be combined with jwt_jwks_file (set from "
            "TAMS_JWT_JWKS_FILE)");
  FlagOverrides flags;
  flags.config_file = write("jwt_jwks_url = \"http://i/k\"\n");
  EXPECT_EQ(error_of([&] {
              load(flags, {{"TAMS_JWT_JWKS_FILE", "/k.json"}});
            }),
            "TAMS_JWT_JWKS_FILE: cannot be combined with jwt_jwks_url (set from config file " +
                *flags.config_file + ")");
  // An empty environment value switches the file's URL off.
  Config c = load(flags, {{"TAMS_JWT_JWKS_FILE", "/k.json"}, {"TAMS_JWT_JWKS_URL", ""}});
  EXPECT_EQ(c.jwt_jwks_file, "/k.json");
  EXPECT_EQ(c.jwt_jwks_url, "");
}

TEST_F(ConfigLoadTest, JwtConfiguredByAnyKeySource) {
  EXPECT_TRUE(jwt_configured(load({}, {{"TAMS_JWT_HS256_SECRET", std::string(32, 'k')}})));
  EXPECT_TRUE(jwt_configured(load({}, {{"TAMS_JWT_JWKS_FILE", "/k.json"}})));
  EXPECT_TRUE(jwt_configured(load({}, {{"TAMS_JWT_JWKS_URL", "https://i/k"}})));
  EXPECT_FALSE(jwt_configured(load({}, {{"TAMS_JWT_ISSUER", "https://i"},
                                        {"TAMS_JWT_AUDIENCE", "tams"},
                                        {"TAMS_JWT_CLOCK_SKEW_SECONDS", "5"}})));
}

TEST_F(ConfigLoadTest, StaticScopesMayBeEmpty) {
  EXPECT_TRUE(load({}, {{"TAMS_AUTH_STATIC_SCOPES", ""}}).auth_static_scopes.empty());
  EXPECT_TRUE(load_file("auth_static_scopes = []\n").auth_static_scopes.empty());
}

// ---------------------------------------------------------------------------------------------
// Wrong TOML types.

TEST_F(ConfigLoadTest, WrongTomlTypes) {
  const std::pair<std::string, std::string> cases[] = {
      {"page_limit_max = \"5\"", "page_limit_max: expected an integer, got a string"},
      {"page_limit_max = 5.0", "page_limit_max: expected an integer, got a floating-point number"},
      {"threads = true", "threads: expected an integer, got a boolean"},
      {"listen = 8080", "listen: expected a string, got an integer"},
      {"data_dir = [\"a\"]", "data_dir: expected a string, got an array"},
      {"log_level = 1979-05-27", "log_level: expected a string, got a date"},
      {"auth_tokens = 5", "auth_tokens: expected a string or an array of strings, got an integer"},
      {"auth_tokens = [\"a\", 5]",
       "auth_tokens: expected an array of strings, got an array "
       "containing an integer"},
      {"cors_origins = [[\"*\"]]",
       "cors_origins: expected an array of strings, got an array "
       "containing an array"},
      {"[page_limit_max]\nx = 1", "page_limit_max: expected an integer, got a table"},
      {"page_limit_max.x = 1", "page_limit_max: expected an integer, got a table"},
      {"page_limit_max = 99999999999999999999",
       "page_limit_max: expected an integer >= 1, got an out-of-range integer"},
      {"page_limit_max = -9_223_372_036_854_775_809",
       "page_limit_max: expected an integer >= 1, got an out-of-range integer"},
      {"page_limit_max = 0xFFFFFFFFFFFFFFFFFF",
       "page_limit_max: expected an integer >= 1, got an out-of-range integer"},
  };
  for (const auto& [toml, expected] : cases) {
    SCOPED_TRACE(toml);
    FlagOverrides flags;
    flags.config_file = write(toml + "\n");
    EXPECT_EQ(error_of([&] { load(flags, {}); }),
              "config file " + *flags.config_file + ": " + expected);
  }
}

// ---------------------------------------------------------------------------------------------
// File problems.

TEST_F(ConfigLoadTest, UnknownFileKeyIsAnError) {
  FlagOverrides flags;
  flags.config_file = write("page_limt_max = 5\n");
  EXPECT_EQ(error_of([&] { load(flags, {}); }),
            "config file " + *flags.config_file + ": unknown key \"page_limt_max\"");
}

TEST_F(ConfigLoadTest, AllUnknownFileKeysAreListed) {
  FlagOverrides flags;
  flags.config_file = write("zz = 1\nthreads = 1\n[server]\nlisten = \"a:1\"\n");
  EXPECT_EQ(error_of([&] { load(flags, {}); }),
            "config file " + *flags.config_file + ": unknown keys \"server\", \"zz\"");
}

TEST_F(ConfigLoadTest, UnknownKeyIsReportedBeforeBadValues) {
  std::string message = error_of([&] { load_file("threads = -5\nthread = 1\n"); });
  EXPECT_NE(message.find("unknown key \"thread\""), std::string::npos) << message;
}

TEST_F(ConfigLoadTest, UnknownKeyWithControlCharactersStaysOneLine) {
  std::string message = error_of([&] { load_file("\"a\\nb\" = 1\n"); });
  EXPECT_NE(message.find(R"(unknown key "a\x0ab")"), std::string::npos) << message;
}

TEST_F(ConfigLoadTest, UnknownEnvironmentNamesAreIgnored) {
  Config c =
      load({}, {{"TAMS_BINARY", "/x"}, {"TAMS_PAGE_LIMT_MAX", "abc"}, {"tams_threads", "x"}});
  EXPECT_EQ(c.page_limit_max, 1000);
  EXPECT_EQ(c.threads, 0);
}

TEST_F(ConfigLoadTest, TomlSyntaxErrors) {
  const std::pair<std::string, std::string> cases[] = {
      {"threads = 1\nbogus\n", "line 2"},
      {"threads = 1\nthreads = 2\n", "line 2"},
      {"log_level = \"info\n", "line 1"},
      {"[a\n", "line 1"},
  };
  for (const auto& [toml, line] : cases) {
    SCOPED_TRACE(toml);
    FlagOverrides flags;
    flags.config_file = write(toml);
    std::string message = error_of([&] { load(flags, {}); });
    EXPECT_EQ(
        message.rfind("config file " + *flags.config_file + ": TOML syntax error at " + line, 0),
        0u)
        << message;
  }
}

TEST_F(ConfigLoadTest, MissingFile) {
  FlagOverrides flags;
  flags.config_file = (dir_ / "nope.toml").string();
  EXPECT_EQ(error_of([&] { load(flags, {}); }),
            "config file " + *flags.config_file + ": cannot open: No such file or directory");
}

TEST_F(ConfigLoadTest, DirectoryAsFile) {
  FlagOverrides flags;
  flags.config_file = dir_.string();
  std::string message = error_of([&] { load(flags, {}); });
  EXPECT_EQ(message.rfind("config file " + dir_.string() + ": cannot ", 0), 0u) << message;
}

TEST_F(ConfigLoadTest, UnreadableFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads everything";
  FlagOverrides flags;
  flags.config_file = write("threads = 1\n");
  chmod(flags.config_file->c_str(), 0);
  EXPECT_EQ(error_of([&] { load(flags, {}); }),
            "config file " + *flags.config_file + ": cannot open: Permission denied");
}

TEST_F(ConfigLoadTest, FileWithBomAndCommentsAndCrlf) {
  Config c = load_file("\xEF\xBB\xBF# comment\r\nthreads = 2 # two\r\n");
  EXPECT_EQ(c.threads, 2);
}

// ---------------------------------------------------------------------------------------------
// Secrets never appear in messages.

TEST_F(ConfigLoadTest, SecretsAreNeverEchoed) {
  const std::string secret = "s3cr3t";
  const std::pair<std::string, std::string> env_cases[] = {
      {"TAMS_AUTH_BASIC", "s3cr3t"},
      {"TAMS_AUTH_BASIC", ":s3cr3t"},
      {"TAMS_AUTH_BASIC", "alice:s3cr3t,bob"},
      {"TAMS_AUTH_BASIC", "alice:s3cr3t,,"},
      {"TAMS_AUTH_BASIC", "alice:s3cr3t,:s3cr3t"},
      {"TAMS_AUTH_TOKENS", "s3cr3t,,x"},
      {"TAMS_AUTH_TOKENS", "s3cr3t,"},
      {"TAMS_PUBLIC_URL", "http://u:s3cr3t@a.example/"},
      {"TAMS_PUBLIC_URL", "ftp://u:s3cr3t@a.example/"},
  };
  for (const auto& [name, value] : env_cases) {
    SCOPED_TRACE(name + "=" + value);
    std::string message = error_of([&] { load({}, {{name, value}}); });
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
    EXPECT_EQ(message.rfind(name + ": ", 0), 0u) << message;
  }
  const std::string file_cases[] = {
      "auth_tokens = [\"s3cr3t\", \"\"]",
      "auth_tokens = [\"s3cr3t x\"]",
      "auth_tokens = [\"s3cr3t\", 5]",
      "auth_tokens = \"s3cr3t",
      "auth_tokens = [\"s3cr3t\"\nbogus",
      "auth_basic = [\"s3cr3t\"]",
      "auth_basic = [\"bob:s3cr3t\", \":s3cr3t\"]",
      "auth_basic = \"bob:s3cr3t\"\nauth_basic = \"x:y\"",
      "auth_basic = [\"bob:s3cr3t\"]\nbogus = 1",
  };
  for (const auto& toml : file_cases) {
    SCOPED_TRACE(toml);
    std::string message = error_of([&] { load_file(toml + "\n"); });
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
  }
}

TEST_F(ConfigLoadTest, Hs256SecretIsNeverEchoed) {
  const std::string secret = "s3cr3t-but-too-short";
  std::string message = error_of([&] { load({}, {{"TAMS_JWT_HS256_SECRET", secret}}); });
  EXPECT_EQ(message, "TAMS_JWT_HS256_SECRET: must be at least 32 bytes (256 bits), got 20 bytes");
  message = error_of([&] { load_file("jwt_hs256_secret = \"" + secret + "\"\n"); });
  EXPECT_EQ(message.find(secret), std::string::npos) << message;
  message = error_of([&] { load({}, {{"TAMS_JWT_JWKS_URL", "https://u:" + secret + "@idp/x"}}); });
  EXPECT_EQ(message.find(secret), std::string::npos) << message;
}

TEST_F(ConfigLoadTest, BasicAuthErrorsShowOnlyTheUserName) {
  std::string message = error_of([] { load({}, {{"TAMS_AUTH_BASIC", "alice:,bob:pw"}}); });
  EXPECT_EQ(message, "TAMS_AUTH_BASIC: user \"alice\" has an empty password");
}

// ---------------------------------------------------------------------------------------------
// process_environment.

TEST_F(ConfigLoadTest, DatabaseFlagsAndUriChecks) {
  FlagOverrides flags;
  flags.db = "postgres://flag/db";
  flags.db_replicas = std::vector<std::string>{"postgres://r1/db", "postgres://r2/db"};
  Config c = load(flags, {{"TAMS_DB", "postgres://env/db"}, {"TAMS_DB_REPLICAS", "postgres://x/y"}});
  EXPECT_EQ(c.db, "postgres://flag/db");
  EXPECT_EQ(c.db_replicas, (std::vector<std::string>{"postgres://r1/db", "postgres://r2/db"}));
  EXPECT_EQ(load({}, {}).db, "") << "default: SQLite";
  // Errors name the key, never the URI (it may hold a password).
  const std::string bad = error_of([&] { load({}, {{"TAMS_DB", "mysql://u:s3cret@h/d"}}); });
  EXPECT_NE(bad.find("TAMS_DB"), std::string::npos) << bad;
  EXPECT_EQ(bad.find("s3cret"), std::string::npos) << bad;
  const std::string replica =
      error_of([&] { load({}, {{"TAMS_DB_REPLICAS", "postgres://ok/x,http://u:s3cret@h/d"}}); });
  EXPECT_NE(replica.find("entry 2"), std::string::npos) << replica;
  EXPECT_EQ(replica.find("s3cret"), std::string::npos) << replica;
}

TEST(ProcessEnvironmentTest, ReadsTheEnvironment) {
  ASSERT_EQ(setenv("TAMS_CONFIG_TEST_VAR", "a=b,c", 1), 0);
  Env env = process_environment();
  EXPECT_EQ(env["TAMS_CONFIG_TEST_VAR"], "a=b,c");
  unsetenv("TAMS_CONFIG_TEST_VAR");
  EXPECT_EQ(process_environment().count("TAMS_CONFIG_TEST_VAR"), 0u);
}

TEST(ProcessEnvironmentTest, FeedsLoad) {
  ASSERT_EQ(setenv("TAMS_THREADS", "7", 1), 0);
  Config c = load({}, process_environment());
  unsetenv("TAMS_THREADS");
  EXPECT_EQ(c.threads, 7);
}

}  // namespace
}  // namespace tams::config
