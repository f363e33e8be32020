#pragma once
// What `check` says of the WAL stream's needs on the server (WAL_STREAM=on): each item that is
// missing, with the statement or configuration line that adds it. Blocking libpq calls: it
// runs in the one-shot `check` command only.

#include <string>
#include <vector>

#include "settings.hpp"

namespace pgship::agent::wal {

struct check_finding {
  enum class level { pass, fail, warn, note };
  level verdict = level::pass;
  std::string item;
  std::string detail;
};

std::vector<check_finding> check_replication(const settings& cfg);

}  // namespace pgship::agent::wal
