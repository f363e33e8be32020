#pragma once
// The old tool's backups, taken over: a `<db>-<stamp>.dump` beside its `.dump.sha256` and
// without a manifest in BACKUP_DIR is checked as `sha256sum -c` would (the line must name
// the dump) and by `pg_restore --list`. One that passes gets a manifest marked `adopted` and
// from then on is uploaded and rotated like any other; one that fails is reported and left
// alone (rotation never touches a dump without a manifest).

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>

#include "pg_tools.hpp"

namespace pgship::agent {

struct adopt_request {
  std::filesystem::path dir;  // BACKUP_DIR
  std::string database;
  pg_tool pg_restore;
  bool upload = true;    // UPLOAD: pending (to be shipped) or skipped
  std::string receiver;  // BACKUP_API_URL, its password redacted (redact_url)
  std::string run_id;
  log::context log;
  std::function<bool()> stopping;  // the run was asked to stop: adopt no more
};

struct adopt_output {
  std::vector<std::string> adopted;
  std::vector<std::string> refused;  // failed the check: left as they are
};

boost::asio::awaitable<void> adopt_old_backups(const adopt_request& request, adopt_output& out);

}  // namespace pgship::agent
