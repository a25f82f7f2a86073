// The storage-backend part of the configuration: [[s3_backends]] tables of the file, the
// TAMS_S3_* variables of a single backend, and the rules that span backends (unique ids, one
// default, local_storage). Internal to config/: load() calls these.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <toml.hpp>
#include <vector>

#include "tams/config/config.h"

namespace tams::config::detail {

using Environment = std::map<std::string, std::string>;
using TomlValue = toml::basic_value<toml::discard_comments, std::map, std::vector>;

// The backends of `value` (the file's s3_backends: an array of tables). `where` prefixes
// messages ("config file x.toml"). Secrets named by *_env come from `environment`, by *_file
// from those files. Throws ConfigError naming the key, e.g. `... s3_backends[2].bucket: ...`.
std::vector<S3BackendConfig> s3_backends_from_toml(const TomlValue& value, const std::string& where,
                                                   const Environment& environment);

// The backend described by TAMS_S3_* variables, or nullopt when none is set. Throws ConfigError.
std::optional<S3BackendConfig> s3_backend_from_environment(const Environment& environment);

// Checks unique ids and a single default, and settles local_storage ("" becomes "default" or
// "secondary"). Throws ConfigError.
void settle_storage_backends(Config& config);

}  // namespace tams::config::detail
