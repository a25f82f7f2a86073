// Who is making a request, as established by http/auth.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace tams::core {

// The scopes of TAMS API access (the de-facto names of BBC's and AWS's tooling).
inline constexpr std::string_view kScopeRead = "tams-api/read";
inline constexpr std::string_view kScopeWrite = "tams-api/write";
inline constexpr std::string_view kScopeDelete = "tams-api/delete";
inline constexpr std::string_view kScopeAdmin = "tams-api/admin";

// The authenticated caller. `name` is the basic-auth user name or the token's subject; it is
// what created_by / updated_by record. `scopes` are what the caller may do.
struct Principal {
  std::string name;
  std::vector<std::string> scopes{};

  bool has_scope(std::string_view scope) const {
    return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
  }
};

}  // namespace tams::core
