#include "tams/json/schema.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <regex>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include "tams/json/date_time.h"
#include "tams/json/native_patterns.h"

namespace tams::json {
namespace {

namespace bj = boost::json;

// ---------------------------------------------------------------------------------------------
// Compiled schema tree.

enum TypeBit : unsigned {
  kString = 1 << 0,
  kInteger = 1 << 1,
  kNumber = 1 << 2,
  kBoolean = 1 << 3,
  kObject = 1 << 4,
  kArray = 1 << 5,
  kNull = 1 << 6,
};

enum class Format { kNone, kDateTime, kUri, kUuid };

struct Pattern {
  std::string source;
  std::regex regex;
  NativeMatcher native = nullptr;  // used instead of regex when set

  bool matches(std::string_view s) const {
    return native != nullptr ? native(s) : std::regex_search(s.begin(), s.end(), regex);
  }
};

// One numeric bound with its rule text precomputed at load time (e.g. ">= 1").
struct Bound {
  bj::value limit;
  bool exclusive = false;
  bool lower = false;
  std::string rule;
};

struct Node;

struct Property {
  std::string name;
  const Node* schema = nullptr;
  // The property's schema pins it with enum/const. Such properties are checked before the others
  // so that a oneOf branch for the wrong variant fails on its discriminator first, whatever the
  // member order of the document.
  bool discriminator = false;
};

struct Node {
  bool always_false = false;  // the boolean schema `false`
  int constraint_count = 0;   // keywords other than annotations; 0 means "accepts anything"
  std::string title;          // used only to word pattern errors

  unsigned types = 0;  // TypeBit mask; 0 = any type
  std::optional<bj::value> const_value;
  std::optional<std::vector<bj::value>> enum_values;

  std::vector<Bound> bounds;
  std::optional<std::size_t> min_length, max_length;
  std::optional<Pattern> pattern;
  Format format = Format::kNone;

  std::optional<std::size_t> min_items, max_items;
  bool unique_items = false;
  const Node* items = nullptr;

  std::vector<std::string> required;
  std::vector<Property> properties;         // sorted by name
  std::vector<std::size_t> discriminators;  // indices into `properties`
  std::vector<std::pair<Pattern, const Node*>> pattern_properties;
  const Node* additional = nullptr;   // additionalProperties, when present
  const Node* unevaluated = nullptr;  // unevaluatedProperties, when present

  const Node* ref = nullptr;
  std::vector<const Node*> all_of, any_of, one_of;
  const Node* not_schema = nullptr;
  std::string not_rule;  // e.g. `must not have both "limit" and "object_ids"`
  const Node* if_schema = nullptr;
  const Node* then_schema = nullptr;
  const Node* else_schema = nullptr;

  const Property* find_property(std::string_view name) const {
    auto it = std::lower_bound(properties.begin(), properties.end(), name,
                               [](const Property& p, std::string_view n) { return p.name < n; });
    return it != properties.end() && it->name == name ? &*it : nullptr;
  }
};

// ---------------------------------------------------------------------------------------------
// JSON helpers shared by the compiler and the validator.

bool is_number(const bj::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

bool is_integral(const bj::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (!v.is_double()) return false;
  double d = v.get_double();
  return std::isfinite(d) && std::trunc(d) == d;
}

// Numeric comparison by value across int64/uint64/double. long double holds every int64 and
// uint64 exactly on the platforms we build for, so mixed comparisons are exact.
int compare_numbers(const bj::value& a, const bj::value& b) {
  auto sign = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  if (a.is_double() || b.is_double()) {
    auto as_ld = [](const bj::value& v) -> long double {
      if (v.is_int64()) return static_cast<long double>(v.get_int64());
      if (v.is_uint64()) return static_cast<long double>(v.get_uint64());
      return v.get_double();
    };
    return sign(as_ld(a), as_ld(b));
  }
  if (a.is_int64() && b.is_int64()) return sign(a.get_int64(), b.get_int64());
  if (a.is_uint64() && b.is_uint64()) return sign(a.get_uint64(), b.get_uint64());
  if (a.is_int64()) {  // b is uint64
    return a.get_int64() < 0 ? -1 : sign(static_cast<std::uint64_t>(a.get_int64()), b.get_uint64());
  }
  return b.get_int64() < 0 ? 1 : sign(a.get_uint64(), static_cast<std::uint64_t>(b.get_int64()));
}

// JSON Schema equality: numbers by value (1 == 1.0), objects regardless of member order.
bool json_equal(const bj::value& a, const bj::value& b) {
  if (is_number(a) && is_number(b)) return compare_numbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case bj::kind::null:
      return true;
    case bj::kind::bool_:
      return a.get_bool() == b.get_bool();
    case bj::kind::string:
      return a.get_string() == b.get_string();
    case bj::kind::array: {
      const bj::array& x = a.get_array();
      const bj::array& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!json_equal(x[i], y[i])) return false;
      }
      return true;
    }
    case bj::kind::object: {
      const bj::object& x = a.get_object();
      const bj::object& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& member : x) {
        const bj::value* other = y.if_contains(member.key());
        if (other == nullptr || !json_equal(member.value(), *other)) return false;
      }
      return true;
    }
    default:
      return false;  // numbers handled above
  }
}

std::string format_number(const bj::value& v) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof buf, v.get_double());
  return std::string(buf, result.ptr);
}

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view cut_utf8(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

// Renders a value for an error message as JSON, on one line and of bounded length (a client's
// bad value may be huge).
std::string render(const bj::value& v) {
  constexpr std::size_t kMaxBytes = 80;
  if (v.is_string()) {
    std::string_view s = v.get_string();
    std::string_view kept = cut_utf8(s, kMaxBytes);
    std::string out = bj::serialize(bj::string_view(kept.data(), kept.size()));
    if (kept.size() < s.size()) out.insert(out.size() - 1, "...");
    return out;
  }
  if (v.is_double()) return format_number(v);
  std::string out = bj::serialize(v);
  if (out.size() > kMaxBytes) out = std::string(cut_utf8(out, kMaxBytes)) + "...";
  return out;
}

std::string got(const bj::value& v) { return " (got " + render(v) + ")"; }

std::string quote_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += bj::serialize(bj::string_view(names[i]));
  }
  return out;
}

std::string describe_types(unsigned types) {
  static constexpr std::pair<unsigned, const char*> kNames[] = {
      {kString, "a string"},   {kInteger, "an integer"}, {kNumber, "a number"},
      {kBoolean, "a boolean"}, {kObject, "an object"},   {kArray, "an array"},
      {kNull, "null"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((types & bit) == 0 || (bit == kInteger && (types & kNumber) != 0)) continue;
    if (!out.empty()) out += " or ";
    out += name;
  }
  return "must be " + out;
}

bool type_matches(unsigned types, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null:
      return types & kNull;
    case bj::kind::bool_:
      return types & kBoolean;
    case bj::kind::string:
      return types & kString;
    case bj::kind::array:
      return types & kArray;
    case bj::kind::object:
      return types & kObject;
    case bj::kind::int64:
    case bj::kind::uint64:
      return types & (kNumber | kInteger);
    case bj::kind::double_:
      return (types & kNumber) || ((types & kInteger) && is_integral(v));
  }
  return false;
}

std::size_t count_code_points(std::string_view s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 3986 `URI` (absolute, so a scheme is required). Checks the scheme syntax, that every other
// character may appear in a URI, that percent-escapes are complete and that there is at most one
// '#'. The authority and path are not parsed further: what the schemas need is to tell URIs and
// URNs from arbitrary text, not to validate hosts.
bool is_uri(std::string_view s) {
  std::size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || !is_alpha(s[0])) return false;
  for (std::size_t i = 1; i < colon; ++i) {
    char c = s[i];
    if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return false;
  }
  static constexpr std::string_view kAllowed = "-._~!$&'()*+,;=:@/?[]";
  bool seen_hash = false;
  for (std::size_t i = colon + 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (c == '#') {
      if (seen_hash) return false;
      seen_hash = true;
    } else if (!is_alpha(c) && !(c >= '0' && c <= '9') &&
               kAllowed.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// RFC 4122 textual UUID, either case (the JSON Schema "uuid" format; the TAMS schemas use
// patterns instead where they want lower case).
bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Compiler: JSON schema documents -> Node trees.

struct PendingRef {
  Node* node;
  std::string target;  // file name
  std::string where;   // "file#/pointer", for errors
};

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

class Compiler {
 public:
  Compiler(std::deque<Node>* nodes, std::vector<PendingRef>* refs, std::string file)
      : nodes_(nodes), refs_(refs), file_(std::move(file)) {}

  Node* compile(const bj::value& schema, const std::string& pointer) {
    Node& node = nodes_->emplace_back();
    if (schema.is_bool()) {
      node.always_false = !schema.get_bool();
      node.constraint_count = node.always_false ? 1 : 0;
      return &node;
    }
    if (!schema.is_object()) fail(pointer, "", "a schema must be an object or a boolean");
    for (const auto& member : schema.get_object()) {
      compile_keyword(&node, member.key(), member.value(), pointer);
    }
    finish(&node);
    return &node;
  }

 private:
  [[noreturn]] void fail(const std::string& pointer, std::string_view keyword,
                         const std::string& what) const {
    std::string msg = "schema " + file_ + "#" + pointer + ": ";
    if (!keyword.empty()) msg += "keyword \"" + std::string(keyword) + "\": ";
    throw std::runtime_error(msg + what);
  }

  Pattern compile_pattern(const bj::value& v, const std::string& pointer, std::string_view kw) {
    if (!v.is_string()) fail(pointer, kw, "must be a string");
    std::string source(v.get_string());
    try {
      auto flags = std::regex::ECMAScript;
#if defined(__GLIBCXX__)
      // libstdc++'s default backtracking matcher recurses once per input character and
      // overflows the stack on strings of a few thousand characters; the polynomial (NFA)
      // matcher runs in bounded stack. It rejects back-references, which no schema uses.
      flags |= std::regex_constants::__polynomial;
#endif
      NativeMatcher native = native_matcher(source);
      return Pattern{source, std::regex(source, flags), native};
    } catch (const std::regex_error& e) {
      fail(pointer, kw, "invalid regular expression \"" + source + "\": " + e.what());
    }
  }

  std::size_t non_negative_integer(const bj::value& v, const std::string& pointer,
                                   std::string_view kw) {
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::size_t>(v.get_int64());
    if (v.is_double() && is_integral(v) && v.get_double() >= 0) {
      return static_cast<std::size_t>(v.get_double());
    }
    fail(pointer, kw, "must be a non-negative integer");
  }

  std::vector<const Node*> compile_list(const bj::value& v, const std::string& pointer,
                                        std::string_view kw) {
    if (!v.is_array() || v.get_array().empty()) fail(pointer, kw, "must be a non-empty array");
    const std::string at = pointer + "/" + std::string(kw);
    std::vector<const Node*> out;
    for (std::size_t i = 0; i < v.get_array().size(); ++i) {
      out.push_back(compile(v.get_array()[i], at + "/" + std::to_string(i)));
    }
    return out;
  }

  void compile_keyword(Node* n, std::string_view kw, const bj::value& v,
                       const std::string& pointer) {
    static constexpr std::string_view kAnnotations[] = {
        "title",     "description", "examples", "default", "readOnly",
        "writeOnly", "deprecated",  "$comment", "$schema", "$id"};
    if (std::find(std::begin(kAnnotations), std::end(kAnnotations), kw) != std::end(kAnnotations)) {
      if (kw == "title" && v.is_string()) n->title = v.get_string();
      return;
    }
    const std::string at = pointer + "/" + escape_pointer_token(kw);
    ++n->constraint_count;
    if (kw == "type") {
      n->types = compile_types(v, pointer);
    } else if (kw == "enum") {
      if (!v.is_array()) fail(pointer, kw, "must be an array");
      n->enum_values.emplace(v.get_array().begin(), v.get_array().end());
    } else if (kw == "const") {
      n->const_value = v;
    } else if (kw == "minimum" || kw == "maximum" || kw == "exclusiveMinimum" ||
               kw == "exclusiveMaximum") {
      if (!is_number(v)) fail(pointer, kw, "must be a number");
      Bound b;
      b.limit = v;
      b.exclusive = kw.starts_with("exclusive");
      b.lower = kw == "minimum" || kw == "exclusiveMinimum";
      n->bounds.push_back(std::move(b));
    } else if (kw == "minLength") {
      n->min_length = non_negative_integer(v, pointer, kw);
    } else if (kw == "maxLength") {
      n->max_length = non_negative_integer(v, pointer, kw);
    } else if (kw == "minItems") {
      n->min_items = non_negative_integer(v, pointer, kw);
    } else if (kw == "maxItems") {
      n->max_items = non_negative_integer(v, pointer, kw);
    } else if (kw == "uniqueItems") {
      if (!v.is_bool()) fail(pointer, kw, "must be a boolean");
      n->unique_items = v.get_bool();
    } else if (kw == "pattern") {
      n->pattern = compile_pattern(v, pointer, kw);
    } else if (kw == "format") {
      n->format = compile_format(v, pointer);
    } else if (kw == "required") {
      if (!v.is_array()) fail(pointer, kw, "must be an array of strings");
      for (const bj::value& name : v.get_array()) {
        if (!name.is_string()) fail(pointer, kw, "must be an array of strings");
        n->required.emplace_back(name.get_string());
      }
    } else if (kw == "properties") {
      if (!v.is_object()) fail(pointer, kw, "must be an object");
      for (const auto& member : v.get_object()) {
        n->properties.push_back(Property{
            std::string(member.key()),
            compile(member.value(), at + "/" + escape_pointer_token(member.key())), false});
      }
      std::sort(n->properties.begin(), n->properties.end(),
                [](const Property& a, const Property& b) { return a.name < b.name; });
    } else if (kw == "patternProperties") {
      if (!v.is_object()) fail(pointer, kw, "must be an object");
      for (const auto& member : v.get_object()) {
        n->pattern_properties.emplace_back(
            compile_pattern(bj::value(member.key()), pointer, kw),
            compile(member.value(), at + "/" + escape_pointer_token(member.key())));
      }
    } else if (kw == "additionalProperties") {
      n->additional = compile(v, at);
    } else if (kw == "unevaluatedProperties") {
      n->unevaluated = compile(v, at);
    } else if (kw == "items") {
      if (v.is_array()) fail(pointer, kw, "the array (tuple) form is not supported");
      n->items = compile(v, at);
    } else if (kw == "allOf") {
      n->all_of = compile_list(v, pointer, kw);
    } else if (kw == "anyOf") {
      n->any_of = compile_list(v, pointer, kw);
    } else if (kw == "oneOf") {
      n->one_of = compile_list(v, pointer, kw);
    } else if (kw == "not") {
      n->not_schema = compile(v, at);
    } else if (kw == "if") {
      n->if_schema = compile(v, at);
    } else if (kw == "then") {
      n->then_schema = compile(v, at);
    } else if (kw == "else") {
      n->else_schema = compile(v, at);
    } else if (kw == "$ref") {
      if (!v.is_string()) fail(pointer, kw, "must be a string");
      std::string target(v.get_string());
      std::size_t hash = target.find('#');
      if (hash != std::string::npos) {
        // Only whole-file references occur in the TAMS schemas; pointer fragments would need
        // $defs/anchors support, which we would rather fail on than half-implement.
        if (hash + 1 != target.size()) {
          fail(pointer, kw, "JSON pointer fragments are not supported (\"" + target + "\")");
        }
        target.resize(hash);
      }
      refs_->push_back(PendingRef{n, target, file_ + "#" + pointer});
    } else {
      fail(pointer, "", "unsupported keyword \"" + std::string(kw) + "\"");
    }
  }

  unsigned compile_types(const bj::value& v, const std::string& pointer) {
    static constexpr std::pair<std::string_view, unsigned> kTypes[] = {
        {"string", kString}, {"integer", kInteger}, {"number", kNumber}, {"boolean", kBoolean},
        {"object", kObject}, {"array", kArray},     {"null", kNull}};
    auto one = [&](const bj::value& name) -> unsigned {
      if (name.is_string()) {
        for (const auto& [type_name, bit] : kTypes) {
          if (name.get_string() == type_name) return bit;
        }
      }
      fail(pointer, "type", "unknown type " + bj::serialize(name));
    };
    if (v.is_string()) return one(v);
    if (!v.is_array() || v.get_array().empty()) {
      fail(pointer, "type", "must be a string or a non-empty array");
    }
    unsigned mask = 0;
    for (const bj::value& name : v.get_array()) mask |= one(name);
    return mask;
  }

  Format compile_format(const bj::value& v, const std::string& pointer) {
    if (v == "date-time") return Format::kDateTime;
    if (v == "uri") return Format::kUri;
    if (v == "uuid") return Format::kUuid;
    // Formats are assertions here, so an unknown one must not pass silently.
    fail(pointer, "format", "unsupported format " + bj::serialize(v));
  }

  // Work that needs all of a node's keywords: bound wording, discriminators, "not" wording.
  void finish(Node* n) {
    bool integer_only = n->types == kInteger;
    for (Bound& b : n->bounds) {
      // For integers, `exclusiveMinimum: 0` reads better as ">= 1".
      if (b.exclusive && integer_only && b.limit.is_int64() && b.limit.get_int64() > INT64_MIN &&
          b.limit.get_int64() < INT64_MAX) {
        std::int64_t edge = b.limit.get_int64() + (b.lower ? 1 : -1);
        b.rule = std::string(b.lower ? ">= " : "<= ") + std::to_string(edge);
      } else {
        b.rule =
            std::string(b.lower ? ">" : "<") + (b.exclusive ? " " : "= ") + format_number(b.limit);
      }
    }
    for (std::size_t i = 0; i < n->properties.size(); ++i) {
      const Node* p = n->properties[i].schema;
      if (p->const_value || p->enum_values) {
        n->properties[i].discriminator = true;
        n->discriminators.push_back(i);
      }
    }
    if (n->not_schema != nullptr) n->not_rule = describe_not(*n->not_schema);
  }

  // Words the rule of a "not" keyword. Schemas that forbid combinations of properties (as
  // flow-storage-post.json does with limit + object_ids) get a precise sentence; anything else
  // a generic one.
  static std::string describe_not(const Node& n) {
    auto required_only = [](const Node& x) {
      return x.constraint_count == 1 && !x.required.empty();
    };
    if (required_only(n)) {
      return n.required.size() == 1
                 ? "must not have property " + quote_list(n.required)
                 : "must not have all of the properties " + quote_list(n.required);
    }
    const auto& branches = !n.all_of.empty() ? n.all_of : n.any_of;
    if (n.constraint_count == 1 && !branches.empty() &&
        std::all_of(branches.begin(), branches.end(),
                    [&](const Node* b) { return required_only(*b); })) {
      std::vector<std::string> names;
      for (const Node* b : branches)
        names.insert(names.end(), b->required.begin(), b->required.end());
      if (!n.any_of.empty()) return "must not have any of the properties " + quote_list(names);
      return names.size() == 2
                 ? "must not have both " + quote_list({names[0]}) + " and " + quote_list({names[1]})
                 : "must not have all of the properties " + quote_list(names);
    }
    return "must not match the schema in \"not\"";
  }

  std::deque<Node>* nodes_;
  std::vector<PendingRef>* refs_;
  std::string file_;
};

// ---------------------------------------------------------------------------------------------
// Validator: one per validate() call, so the compiled tree stays immutable and shareable.

struct PathSegment {
  std::string_view key;  // empty and is_index for array elements
  std::size_t index = 0;
  bool is_index = false;
};

struct Failure {
  std::vector<PathSegment> path;
  std::string message;
  // Set for an enum/const mismatch: the values allowed and the value found. In a oneOf/anyOf
  // such a failure is the sign of a branch meant for another variant, so it is the least useful
  // to report; and when every branch fails that way the allowed values are merged.
  std::vector<const bj::value*> allowed;
  const bj::value* actual = nullptr;

  bool discriminator() const { return actual != nullptr; }
};

bool same_path(const std::vector<PathSegment>& a, const std::vector<PathSegment>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const PathSegment& x, const PathSegment& y) {
                      return x.is_index == y.is_index && x.index == y.index && x.key == y.key;
                    });
}

std::string describe_allowed(const std::vector<const bj::value*>& values) {
  if (values.size() == 1) return "must be " + render(*values[0]);
  std::string out = "must be one of ";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += render(*values[i]);
  }
  return out;
}

// Picks the failure to report for a oneOf/anyOf none of whose branches matched: one that is not
// a discriminator mismatch if any (the branch whose discriminator matched), then the deepest
// (the branch that got furthest), then the first. When the pick is a discriminator mismatch,
// the values allowed by every branch that failed the same way at the same place are merged, so
// `format: must be one of "urn:x-nmos:format:video", "urn:x-nmos:format:audio", ...` lists all
// variants rather than the first branch's.
Failure pick_failure(std::vector<Failure> failures) {
  auto better = [](const Failure& a, const Failure& b) {
    if (a.discriminator() != b.discriminator()) return !a.discriminator();
    return a.path.size() > b.path.size();
  };
  std::size_t best = 0;
  for (std::size_t i = 1; i < failures.size(); ++i) {
    if (better(failures[i], failures[best])) best = i;
  }
  Failure result = std::move(failures[best]);
  if (result.discriminator()) {
    for (std::size_t i = 0; i < failures.size(); ++i) {
      if (i == best || !failures[i].discriminator() || !same_path(failures[i].path, result.path)) {
        continue;
      }
      for (const bj::value* v : failures[i].allowed) {
        if (std::none_of(result.allowed.begin(), result.allowed.end(),
                         [&](const bj::value* a) { return json_equal(*a, *v); })) {
          result.allowed.push_back(v);
        }
      }
    }
    result.message = describe_allowed(result.allowed) + got(*result.actual);
  }
  return result;
}

bool is_plain_key(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7F && c != '.' && c != '[' && c != ']' && c != '"';
  });
}

std::string render_path(const std::vector<PathSegment>& path) {
  if (path.empty()) return "(root)";
  std::string out;
  for (const PathSegment& seg : path) {
    if (seg.is_index) {
      out += "[" + std::to_string(seg.index) + "]";
    } else if (is_plain_key(seg.key)) {
      if (!out.empty()) out += '.';
      out += seg.key;
    } else {
      // Keys with dots, brackets, spaces or control characters would make the path ambiguous
      // or break the one-line promise, so they are shown quoted.
      out += "[" + bj::serialize(bj::string_view(seg.key.data(), seg.key.size())) + "]";
    }
  }
  return out;
}

// Property names evaluated at the current instance location (for unevaluatedProperties).
using Evaluated = std::vector<std::string_view>;

class Validator {
 public:
  // Returns false and fills `failure` when `v` does not satisfy `n`. When `ev` is not null,
  // appends the names of the properties of `v` that `n` evaluated (only on success).
  bool check(const Node& n, const bj::value& v, Evaluated* ev) {
    if (n.always_false) return fail(not_allowed_rule());
    if (n.constraint_count == 0) return true;
    // Recursion follows the instance and the schema; a $ref cycle that does not descend into
    // the instance would otherwise recurse forever.
    constexpr int kMaxDepth = 256;
    if (depth_ >= kMaxDepth) return fail("schema nesting too deep to validate");
    ++depth_;
    const bj::object* obj = v.if_object();
    Evaluated local;
    if (obj == nullptr) {
      ev = nullptr;  // annotations only matter for objects
    } else if (ev == nullptr && n.unevaluated != nullptr) {
      ev = &local;
    }
    std::size_t mark = ev != nullptr ? ev->size() : 0;
    bool ok = check_own(n, v, ev) && check_in_place(n, v, ev) &&
              (obj == nullptr || n.unevaluated == nullptr ||
               check_unevaluated(*n.unevaluated, *obj, ev, mark));
    if (!ok && ev != nullptr) ev->resize(mark);
    --depth_;
    return ok;
  }

  Failure failure;

 private:
  bool fail(std::string message) {
    failure.path = path_;
    failure.message = std::move(message);
    failure.allowed.clear();
    failure.actual = nullptr;
    return false;
  }

  // An enum/const mismatch (see Failure).
  bool fail_discriminator(std::vector<const bj::value*> allowed, const bj::value& actual) {
    fail(describe_allowed(allowed) + got(actual));
    failure.allowed = std::move(allowed);
    failure.actual = &actual;
    return false;
  }

  std::string not_allowed_rule() const {
    if (path_.empty()) return "no value is allowed";
    return path_.back().is_index ? "item not allowed" : "property not allowed";
  }

  bool descend_key(const Node& n, std::string_view key, const bj::value& v) {
    path_.push_back(PathSegment{key, 0, false});
    bool ok = check(n, v, nullptr);
    path_.pop_back();
    return ok;
  }

  bool descend_index(const Node& n, std::size_t index, const bj::value& v) {
    path_.push_back(PathSegment{{}, index, true});
    bool ok = check(n, v, nullptr);
    path_.pop_back();
    return ok;
  }

  // Keywords that constrain `v` itself or its members (not the in-place applicators).
  bool check_own(const Node& n, const bj::value& v, Evaluated* ev) {
    if (n.types != 0 && !type_matches(n.types, v)) return fail(describe_types(n.types));
    if (n.const_value && !json_equal(*n.const_value, v)) {
      return fail_discriminator({&*n.const_value}, v);
    }
    if (n.enum_values && std::none_of(n.enum_values->begin(), n.enum_values->end(),
                                      [&](const bj::value& e) { return json_equal(e, v); })) {
      std::vector<const bj::value*> allowed;
      for (const bj::value& e : *n.enum_values) allowed.push_back(&e);
      return fail_discriminator(std::move(allowed), v);
    }
    switch (v.kind()) {
      case bj::kind::string:
        return check_string(n, v);
      case bj::kind::int64:
      case bj::kind::uint64:
      case bj::kind::double_:
        return check_number(n, v);
      case bj::kind::array:
        return check_array(n, v.get_array());
      case bj::kind::object:
        return check_object(n, v.get_object(), ev);
      default:
        return true;
    }
  }

  bool check_string(const Node& n, const bj::value& v) {
    std::string_view s = v.get_string();
    if (n.min_length || n.max_length) {
      std::size_t length = count_code_points(s);
      if (n.min_length && length < *n.min_length) {
        return fail("must be at least " + std::to_string(*n.min_length) + " characters long (got " +
                    std::to_string(length) + ")");
      }
      if (n.max_length && length > *n.max_length) {
        return fail("must be at most " + std::to_string(*n.max_length) + " characters long (got " +
                    std::to_string(length) + ")");
      }
    }
    if (n.pattern && !n.pattern->matches(s)) {
      std::string what =
          n.title.empty() ? "must match pattern " : "must be a " + n.title + " matching ";
      return fail(what + n.pattern->source + got(v));
    }
    switch (n.format) {
      case Format::kNone:
        break;
      case Format::kDateTime:
        if (!is_rfc3339_date_time(s)) return fail("must be an RFC 3339 date-time" + got(v));
        break;
      case Format::kUri:
        if (!is_uri(s)) return fail("must be a URI" + got(v));
        break;
      case Format::kUuid:
        if (!is_uuid(s)) return fail("must be a UUID" + got(v));
        break;
    }
    return true;
  }

  bool check_number(const Node& n, const bj::value& v) {
    for (const Bound& b : n.bounds) {
      int c = compare_numbers(v, b.limit);
      bool ok = b.lower ? (b.exclusive ? c > 0 : c >= 0) : (b.exclusive ? c < 0 : c <= 0);
      if (!ok) return fail("must be " + b.rule + got(v));
    }
    return true;
  }

  bool check_array(const Node& n, const bj::array& a) {
    if (n.min_items && a.size() < *n.min_items) {
      return fail("must have at least " + std::to_string(*n.min_items) + " item" +
                  (*n.min_items == 1 ? "" : "s") + " (got " + std::to_string(a.size()) + ")");
    }
    if (n.max_items && a.size() > *n.max_items) {
      return fail("must have at most " + std::to_string(*n.max_items) + " item" +
                  (*n.max_items == 1 ? "" : "s") + " (got " + std::to_string(a.size()) + ")");
    }
    if (n.unique_items) {
      for (std::size_t i = 0; i < a.size(); ++i) {
        for (std::size_t j = i + 1; j < a.size(); ++j) {
          if (json_equal(a[i], a[j])) {
            return fail("must not contain duplicate items ([" + std::to_string(i) + "] and [" +
                        std::to_string(j) + "] are equal)");
          }
        }
      }
    }
    if (n.items != nullptr) {
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (!descend_index(*n.items, i, a[i])) return false;
      }
    }
    return true;
  }

  bool check_object(const Node& n, const bj::object& o, Evaluated* ev) {
    for (const std::string& name : n.required) {
      if (!o.contains(name)) return fail("missing required property \"" + name + "\"");
    }
    for (std::size_t i : n.discriminators) {
      const Property& p = n.properties[i];
      if (const bj::value* member = o.if_contains(p.name)) {
        if (!descend_key(*p.schema, p.name, *member)) return false;
      }
    }
    if (n.properties.empty() && n.pattern_properties.empty() && n.additional == nullptr) {
      return true;
    }
    for (const auto& member : o) {
      std::string_view key = member.key();
      bool matched = false;
      if (const Property* p = n.find_property(key)) {
        matched = true;
        if (!p->discriminator && !descend_key(*p->schema, key, member.value())) return false;
      }
      for (const auto& [pattern, schema] : n.pattern_properties) {
        if (pattern.matches(key)) {
          matched = true;
          if (!descend_key(*schema, key, member.value())) return false;
        }
      }
      if (!matched && n.additional != nullptr) {
        matched = true;
        if (!descend_key(*n.additional, key, member.value())) return false;
      }
      if (matched && ev != nullptr) ev->push_back(key);
    }
    return true;
  }

  // $ref, allOf, anyOf, oneOf, not, if/then/else: subschemas applied to `v` itself.
  // Validating a $ref target. Branches of a oneOf/anyOf often share a $ref (each branch of
  // flow.json validates flow-core.json against the same document, regexes included), so within
  // branches successes are remembered per (schema, value) and not repeated. Only when no
  // annotations are wanted: a remembered success carries no list of evaluated properties.
  bool check_ref(const Node& target, const bj::value& v, Evaluated* ev) {
    bool memo = branch_depth_ > 0 && ev == nullptr;
    if (memo && ref_successes_.contains({&target, &v})) return true;
    if (!check(target, v, ev)) return false;
    if (memo) ref_successes_.insert({&target, &v});
    return true;
  }

  struct BranchScope {
    explicit BranchScope(int* depth) : depth_(depth) { ++*depth_; }
    ~BranchScope() { --*depth_; }
    BranchScope(const BranchScope&) = delete;
    BranchScope& operator=(const BranchScope&) = delete;
    int* depth_;
  };

  bool check_in_place(const Node& n, const bj::value& v, Evaluated* ev) {
    if (n.ref != nullptr && !check_ref(*n.ref, v, ev)) return false;
    for (const Node* branch : n.all_of) {
      if (!check(*branch, v, ev)) return false;
    }
    if (!n.any_of.empty()) {
      bool any = false;
      std::vector<Failure> failures;
      BranchScope scope(&branch_depth_);
      for (const Node* branch : n.any_of) {
        if (check(*branch, v, ev)) {
          any = true;
          if (ev == nullptr) break;  // later branches only matter for their annotations
        } else {
          failures.push_back(std::move(failure));
        }
      }
      if (!any) {
        failure = pick_failure(std::move(failures));
        return false;
      }
    }
    if (!n.one_of.empty()) {
      std::optional<std::size_t> matched;
      std::vector<Failure> failures;
      BranchScope scope(&branch_depth_);
      for (std::size_t i = 0; i < n.one_of.size(); ++i) {
        if (check(*n.one_of[i], v, ev)) {
          if (matched) {
            return fail("must match exactly one oneOf branch but matches branches " +
                        std::to_string(*matched) + " and " + std::to_string(i));
          }
          matched = i;
        } else {
          failures.push_back(std::move(failure));
        }
      }
      if (!matched) {
        failure = pick_failure(std::move(failures));
        return false;
      }
    }
    if (n.not_schema != nullptr && check(*n.not_schema, v, nullptr)) return fail(n.not_rule);
    if (n.if_schema != nullptr) {
      const Node* next = check(*n.if_schema, v, ev) ? n.then_schema : n.else_schema;
      if (next != nullptr && !check(*next, v, ev)) return false;
    }
    return true;
  }

  bool check_unevaluated(const Node& schema, const bj::object& o, Evaluated* ev, std::size_t mark) {
    // Only annotations produced within this schema object count (entries from `mark` on);
    // earlier entries belong to sibling subschemas of an enclosing applicator.
    const std::size_t end = ev->size();
    auto evaluated = [&](std::string_view key) {
      for (std::size_t i = mark; i < end; ++i) {
        if ((*ev)[i] == key) return true;
      }
      return false;
    };
    for (const auto& member : o) {
      if (!evaluated(member.key()) && !descend_key(schema, member.key(), member.value())) {
        return false;
      }
    }
    for (const auto& member : o) ev->push_back(member.key());
    return true;
  }

  struct PairHash {
    std::size_t operator()(const std::pair<const Node*, const bj::value*>& p) const {
      return std::hash<const void*>()(p.first) * 31 + std::hash<const void*>()(p.second);
    }
  };

  std::vector<PathSegment> path_;
  int depth_ = 0;
  int branch_depth_ = 0;  // number of oneOf/anyOf branches being evaluated
  std::unordered_set<std::pair<const Node*, const bj::value*>, PairHash> ref_successes_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct SchemaSet::Impl {
  std::deque<Node> nodes;  // a deque so that Node pointers stay valid as it grows
  std::map<std::string, const Node*, std::less<>> roots;
};

SchemaSet::SchemaSet(const std::vector<EmbeddedSchema>& files) {
  auto impl = std::make_unique<Impl>();
  std::vector<PendingRef> refs;
  for (const EmbeddedSchema& file : files) {
    std::string name(file.file_name);
    if (impl->roots.contains(name)) {
      throw std::runtime_error("schema " + name + ": file name given twice");
    }
    bj::value doc;
    try {
      doc = bj::parse(bj::string_view(file.text.data(), file.text.size()));
    } catch (const std::exception& e) {
      throw std::runtime_error("schema " + name + ": invalid JSON: " + e.what());
    }
    Compiler compiler(&impl->nodes, &refs, name);
    impl->roots.emplace(name, compiler.compile(doc, ""));
  }
  for (const PendingRef& ref : refs) {
    auto it = impl->roots.find(ref.target);
    if (it == impl->roots.end()) {
      throw std::runtime_error("schema " + ref.where + ": keyword \"$ref\": \"" + ref.target +
                               "\" is not a schema of the set");
    }
    ref.node->ref = it->second;
  }
  impl_ = std::move(impl);
}

SchemaSet::~SchemaSet() = default;
SchemaSet::SchemaSet(SchemaSet&&) noexcept = default;
SchemaSet& SchemaSet::operator=(SchemaSet&&) noexcept = default;

const SchemaSet& SchemaSet::spec() {
  static const SchemaSet set(embedded_schemas());
  return set;
}

std::optional<std::string> SchemaSet::validate(std::string_view schema_name,
                                               const boost::json::value& value) const {
  auto it = impl_->roots.find(schema_name);
  if (it == impl_->roots.end()) {
    throw std::out_of_range("unknown schema \"" + std::string(schema_name) + "\"");
  }
  Validator validator;
  if (validator.check(*it->second, value, nullptr)) return std::nullopt;
  return render_path(validator.failure.path) + ": " + validator.failure.message;
}

}  // namespace tams::json
