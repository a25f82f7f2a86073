#include "tams/config/s3_backends.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tams::config::detail {

namespace {

// A field's value before it is checked: text, or a list (endpoints).
struct Raw {
  std::string text;
  std::vector<std::string> list;
};
using RawFields = std::map<std::string, Raw>;

enum class Kind { kText, kBool, kInteger, kList };

struct FieldSpec {
  const char* key;
  Kind kind;
};

constexpr FieldSpec kSpecs[] = {
    {"id", Kind::kText},
    {"label", Kind::kText},
    {"endpoints", Kind::kList},
    {"region", Kind::kText},
    {"availability_zone", Kind::kText},
    {"bucket", Kind::kText},
    {"path_style", Kind::kBool},
    {"provider", Kind::kText},
    {"store_product", Kind::kText},
    {"default", Kind::kBool},
    {"access_key_id", Kind::kText},
    {"access_key_id_env", Kind::kText},
    {"access_key_id_file", Kind::kText},
    {"secret_access_key", Kind::kText},  // environment only: refused in the file
    {"secret_access_key_env", Kind::kText},
    {"secret_access_key_file", Kind::kText},
    {"timeout_ms", Kind::kInteger},
    {"health_check_ms", Kind::kInteger},
};

const FieldSpec* spec_of(std::string_view key) {
  for (const auto& s : kSpecs) {
    if (key == s.key) return &s;
  }
  return nullptr;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool has_controls(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
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

// S3 bucket names (virtual-hosted safe): 3-63 of a-z 0-9 . -, starting and ending alphanumeric.
bool is_bucket(std::string_view s) {
  if (s.size() < 3 || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '.' || c == '-'; });
}

bool is_endpoint(std::string_view url) {
  const bool http = url.starts_with("http://"), https = url.starts_with("https://");
  if (!http && !https) return false;
  const std::string_view rest = url.substr(http ? 7 : 8);
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.empty() || authority.front() == ':') return false;
  // host[:port] or [v6][:port]: the port, when given, is decimal.
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    const std::string_view port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
  }
  return std::none_of(url.begin(), url.end(), [](unsigned char c) {
    return c <= 0x20 || c == 0x7f || c == '?' || c == '#' || c == '@';
  });
}

std::string read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// Builds one backend from raw fields; `name(key)` is how messages name a key.
template <typename Name>
S3BackendConfig build(const RawFields& raw, bool from_file, const Environment& env, Name name) {
  auto fail = [&](const std::string& key, const std::string& message) -> void {
    throw ConfigError(name(key) + ": " + message);
  };
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = raw.find(key);
    if (it == raw.end()) return std::nullopt;
    if (has_controls(it->second.text)) fail(key, "must not contain control characters");
    return it->second.text;
  };
  auto flag = [&](const char* key, bool fallback) {
    auto v = text(key);
    if (!v) return fallback;
    if (*v == "true") return true;
    if (*v == "false") return false;
    fail(key, "expected true or false, got \"" + *v + "\"");
    return fallback;
  };
  auto integer = [&](const char* key, int64_t fallback, int64_t min, int64_t max) {
    auto v = text(key);
    if (!v) return fallback;
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (v->empty() || ec != std::errc() || ptr != v->data() + v->size() || n < min || n > max) {
      fail(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                    ", got \"" + *v + "\"");
    }
    return n;
  };
  // A secret from exactly one of: the value itself (environment only), a variable, a file.
  auto secret = [&](const std::string& key, bool inline_allowed) {
    const auto direct = raw.find(key) != raw.end() ? text(key.c_str()) : std::nullopt;
    const auto var = text((key + "_env").c_str());
    const auto file = text((key + "_file").c_str());
    if (direct && !inline_allowed) {
      fail(key, "secrets are not written in the file; use " + key + "_file or " + key + "_env");
    }
    if (int(direct.has_value()) + int(var.has_value()) + int(file.has_value()) != 1) {
      fail(key, "give exactly one of " + key + ", " + key + "_env or " + key + "_file");
    }
    std::string value;
    if (direct) value = *direct;
    if (var) {
      auto it = env.find(*var);
      if (it == env.end()) fail(key + "_env", "the variable " + *var + " is not set");
      value = it->second;
    }
    if (file) {
      try {
        value = read_secret_file(*file);
      } catch (const std::exception& e) {
        fail(key + "_file", e.what());
      }
    }
    if (value.empty()) fail(key, "is empty");
    if (has_controls(value)) fail(key, "contains control characters");  // never echoed
    return value;
  };

  S3BackendConfig b;
  const auto id = text("id");
  if (!id || !is_uuid(*id)) fail("id", "required: a stable lowercase UUID (the storage_id)");
  b.id = *id;
  const auto bucket = text("bucket");
  if (!bucket || !is_bucket(*bucket)) {
    fail("bucket", "required: 3 to 63 of a-z, 0-9, '.' and '-', starting and ending alphanumeric");
  }
  b.bucket = *bucket;
  b.label = text("label").value_or(b.bucket);
  if (b.label.empty()) fail("label", "must not be empty");
  auto eps = raw.find("endpoints");
  if (eps == raw.end() || eps->second.list.empty()) fail("endpoints", "required: at least one URL");
  for (const auto& url : eps->second.list) {
    // user:password@ would be a credential: refused without echoing the URL.
    if (url.find('@') != std::string::npos) fail("endpoints", "must not contain user information");
    if (!is_endpoint(url)) {
      fail("endpoints", "expected http(s)://host[:port][/path] without user, query or fragment, got \"" +
                            std::string(has_controls(url) ? "(control characters)" : url) + "\"");
    }
    b.endpoints.push_back(url);
  }
  b.region = text("region").value_or(b.region);
  if (b.region.empty()) fail("region", "must not be empty");
  b.availability_zone = text("availability_zone").value_or("");
  b.path_style = flag("path_style", b.path_style);
  b.provider = text("provider").value_or(b.provider);
  b.store_product = text("store_product").value_or(b.store_product);
  b.default_storage = flag("default", false);
  b.timeout_ms = integer("timeout_ms", b.timeout_ms, 100, 600000);
  b.health_check_ms = integer("health_check_ms", b.health_check_ms, 100, 3600000);
  b.access_key_id = secret("access_key_id", true);
  b.secret_access_key = secret("secret_access_key", !from_file);
  return b;
}

std::string toml_kind_name(const TomlValue& v) {
  switch (v.type()) {
    case toml::value_t::boolean: return "a boolean";
    case toml::value_t::integer: return "an integer";
    case toml::value_t::string: return "a string";
    case toml::value_t::array: return "an array";
    case toml::value_t::table: return "a table";
    default: return "another type";
  }
}

}  // namespace

std::vector<S3BackendConfig> s3_backends_from_toml(const TomlValue& value, const std::string& where,
                                                   const Environment& environment) {
  if (!value.is_array()) {
    throw ConfigError(where + ": s3_backends: expected an array of tables ([[s3_backends]]), got " +
                      toml_kind_name(value));
  }
  std::vector<S3BackendConfig> out;
  const auto& array = value.as_array();
  for (size_t n = 0; n < array.size(); ++n) {
    const std::string prefix = where + ": s3_backends[" + std::to_string(n + 1) + "]";
    if (!array[n].is_table()) {
      throw ConfigError(prefix + ": expected a table, got " + toml_kind_name(array[n]));
    }
    RawFields raw;
    for (const auto& [key, v] : array[n].as_table()) {
      const FieldSpec* spec = spec_of(key);
      const std::string label = prefix + "." + key;
      if (!spec) throw ConfigError(label + ": unknown key");
      Raw r;
      switch (spec->kind) {
        case Kind::kText:
          if (!v.is_string()) throw ConfigError(label + ": expected a string, got " + toml_kind_name(v));
          r.text = v.as_string().str;
          break;
        case Kind::kBool:
          if (!v.is_boolean()) throw ConfigError(label + ": expected true or false, got " + toml_kind_name(v));
          r.text = v.as_boolean() ? "true" : "false";
          break;
        case Kind::kInteger:
          if (!v.is_integer()) throw ConfigError(label + ": expected an integer, got " + toml_kind_name(v));
          r.text = std::to_string(v.as_integer());
          break;
        case Kind::kList:
          if (v.is_string()) {
            r.list.push_back(v.as_string().str);
          } else if (v.is_array()) {
            for (const auto& item : v.as_array()) {
              if (!item.is_string()) throw ConfigError(label + ": expected an array of strings");
              r.list.push_back(item.as_string().str);
            }
          } else {
            throw ConfigError(label + ": expected an array of strings, got " + toml_kind_name(v));
          }
          break;
      }
      raw.emplace(key, std::move(r));
    }
    out.push_back(build(raw, true, environment,
                        [&](const std::string& key) { return prefix + "." + key; }));
  }
  return out;
}

std::optional<S3BackendConfig> s3_backend_from_environment(const Environment& environment) {
  RawFields raw;
  for (const auto& spec : kSpecs) {
    const std::string name = "TAMS_S3_" + upper(spec.key);
    auto it = environment.find(name);
    if (it == environment.end()) continue;
    Raw r;
    r.text = it->second;
    if (spec.kind == Kind::kList) {
      std::string_view rest = it->second;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        std::string item(rest.substr(0, comma));
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) r.list.push_back(item);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
    raw.emplace(spec.key, std::move(r));
  }
  if (raw.empty()) return std::nullopt;
  return build(raw, false, environment,
               [](const std::string& key) { return "TAMS_S3_" + upper(key); });
}

void settle_storage_backends(Config& c) {
  int s3_defaults = 0;
  for (size_t i = 0; i < c.s3_backends.size(); ++i) {
    const auto& b = c.s3_backends[i];
    if (b.default_storage) ++s3_defaults;
    for (size_t j = 0; j < i; ++j) {
      if (c.s3_backends[j].id == b.id) {
        throw ConfigError("s3_backends: the id " + b.id + " is used by two backends (" +
                          c.s3_backends[j].label + " and " + b.label + ")");
      }
    }
  }
  if (s3_defaults > 1) throw ConfigError("s3_backends: more than one backend says default = true");
  if (c.local_storage.empty()) c.local_storage = s3_defaults == 0 ? "default" : "secondary";
  if (c.local_storage == "default" && s3_defaults > 0) {
    throw ConfigError("local_storage: \"default\" but an S3 backend says default = true; set "
                      "local_storage to \"secondary\" or \"disabled\"");
  }
  if (c.local_storage == "disabled" && c.s3_backends.empty()) {
    throw ConfigError("local_storage: \"disabled\" but no S3 backend is configured");
  }
}

}  // namespace tams::config::detail
