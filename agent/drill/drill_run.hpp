#pragma once
// A restore drill: for each database, the newest backup the receiver holds (the off-site
// copy, not the local file) is downloaded with its sha256 checked, restored into a scratch
// database (DRILL_DATABASE on DRILL_POSTGRES_*) with --exit-on-error, and every table's rows
// are compared with the counts the dump's own snapshot recorded in its manifest. The scratch
// database is dropped afterwards, after a failure or a stop request too, unless DRILL_KEEP.

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "pipeline/run_control.hpp"
#include "pipeline/run_record.hpp"
#include "settings.hpp"

namespace pgship::agent {

struct drill_request {
  std::string run_id;  // empty: a new one
  std::string trigger = "manual";
  std::vector<std::string> databases;  // empty: every database of POSTGRES_DB
  std::string backup_id;               // this backup instead of each database's newest
  int jobs = 1;                        // pg_restore -j (above 1 over a spooled file)
};

/// The comment a drill puts on its scratch database: only a database carrying it is ever
/// dropped by a drill that finds one left over (a crash, a second signal).
inline constexpr std::string_view scratch_marker = "pgship restore drill scratch database";

/// Runs to the end and returns the record (kind "drill"); failures are in the record.
boost::asio::awaitable<run_record> run_drill(const settings& cfg, const drill_request& request,
                                             run_control& control);

}  // namespace pgship::agent
