// Who is making a request, as established by http/auth.
#pragma once

#include <string>

namespace tams::core {

// The authenticated caller. `name` is the basic-auth user name or the token's subject; it is
// what created_by / updated_by record.
struct Principal {
  std::string name;
};

}  // namespace tams::core
