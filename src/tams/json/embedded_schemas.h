// The TAMS 7.0 JSON schemas compiled into the binary (from spec/tams-7.0/schemas).
#pragma once

#include <string_view>
#include <vector>

namespace tams::json {

struct EmbeddedSchema {
  std::string_view file_name;  // e.g. "flow-video.json", as referenced by "$ref"
  std::string_view text;       // the file's bytes, unmodified
};

// All schema files, sorted by name. Thread-safe; the vector lives for the whole program.
const std::vector<EmbeddedSchema>& embedded_schemas();

}  // namespace tams::json
