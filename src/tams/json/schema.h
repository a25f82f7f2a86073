// JSON Schema (2020-12 subset) validation of Boost.JSON values against the TAMS schemas.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tams/json/embedded_schemas.h"

namespace tams::json {

// A set of JSON schemas that refer to each other by file name ("$ref": "flow-core.json").
//
// Supported keywords (anything else makes the constructor throw, so a schema update can never be
// silently half-enforced): type, enum, const, properties, patternProperties,
// additionalProperties, unevaluatedProperties (2020-12 semantics), required, items (single
// schema), minItems, maxItems, uniqueItems, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, minLength, maxLength, pattern, format ("date-time", "uri", "uuid"), allOf,
// anyOf, oneOf, not, if/then/else, $ref (a file name of the set, optionally followed by an empty
// fragment "#"). Annotations title, description, examples, default, readOnly, writeOnly,
// deprecated, $comment, $schema and $id are ignored. Boolean schemas are accepted.
//
// Semantics worth knowing: "integer" accepts any JSON number with an integral value (3.0 too);
// numbers compare by value (1 == 1.0 for enum/const/uniqueItems); "pattern" is an unanchored
// ECMAScript search; string lengths count Unicode code points.
//
// Immutable after construction; safe for concurrent use from many threads.
class SchemaSet {
 public:
  // Parses and compiles every schema and resolves every $ref. Throws std::runtime_error naming
  // the file, the location in it and the keyword on invalid JSON, an unsupported keyword or
  // format, a malformed keyword value (e.g. a bad regex) or a $ref to a file not in `files`.
  explicit SchemaSet(const std::vector<EmbeddedSchema>& files);
  ~SchemaSet();
  SchemaSet(SchemaSet&&) noexcept;
  SchemaSet& operator=(SchemaSet&&) noexcept;

  // The TAMS 7.0 schemas compiled into the binary; built on first use (thread-safe static).
  // Throws (on first use) only if the embedded schemas use an unsupported feature.
  static const SchemaSet& spec();

  // Validates `value` against the schema file `schema_name` (e.g. "flow-video.json").
  // Returns std::nullopt when valid, otherwise ONE line "<path>: <rule>" naming the JSON path of
  // the offending value and the rule it breaks, e.g.
  //   `essence_parameters.frame_width: must be >= 1 (got 0)`, `label: must be a string`,
  //   `(root): missing required property "source_id"`, `foo: property not allowed`.
  // The path is dot-separated property names with array indices in brackets
  // (`flow_collection[2].id`), or "(root)" for the whole document. When several rules are
  // broken the first one met is reported. When no branch of a oneOf/anyOf matches, the error of
  // the most plausible branch is reported: one that failed on something other than an enum/const
  // mismatch (i.e. whose discriminator matched) and, among those, the one that got deepest; if
  // every branch failed on an enum/const at the same place, the allowed values are merged
  // (`format: must be one of "urn:x-nmos:format:video", ... (got "x")`).
  // Throws std::out_of_range for an unknown schema_name (a programming error).
  std::optional<std::string> validate(std::string_view schema_name,
                                      const boost::json::value& value) const;

 private:
  struct Impl;
  std::unique_ptr<const Impl> impl_;
};

}  // namespace tams::json
