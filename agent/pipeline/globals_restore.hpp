#pragma once
// `restore --globals`: a globals script (pipeline/globals_script.hpp) applied to a server over
// libpq. Roles and tablespaces the server already has are left exactly as they are and named
// in the result; everything else runs statement by statement in one transaction (unless the
// script creates a tablespace, which no transaction may), stopping at the first error with
// PostgreSQL's own ERROR: line.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pg_connection.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct globals_applied {
  std::vector<std::string> kept_roles;  // already there: left as they were
  std::vector<std::string> kept_tablespaces;
  std::size_t statements = 0;  // run
};

/// restore_failed (with the statement, its password hidden, and PostgreSQL's ERROR: line) or
/// a database_* error connecting.
stage_error apply_globals(const pg_login& login, std::string_view script, globals_applied& out);

}  // namespace pgship::agent
