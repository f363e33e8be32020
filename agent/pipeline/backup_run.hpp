#pragma once
// One backup run: for each database, pre-flight → dump+hash → verify → commit locally →
// upload → rotate, as one coroutine. The one-shot `backup` command and the daemon's scheduler
// and control API all call this.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>

#include "pipeline/run_control.hpp"
#include "pipeline/run_log.hpp"
#include "pipeline/run_record.hpp"
#include "settings.hpp"

namespace pgship::agent {

/// Test seams at stage boundaries (never set in production).
struct pipeline_hooks {
  /// After pg_dump finished writing `partial`, before verify reads it back.
  std::function<void(const std::filesystem::path& partial)> after_dump;
};

struct run_request {
  std::string run_id;  // empty: a new one
  std::string trigger = "manual";
  std::vector<std::string> databases;  // empty: every database of POSTGRES_DB
  pipeline_hooks hooks;
};

/// Runs to the end and returns the record; failures are in the record, never thrown.
boost::asio::awaitable<run_record> run_backup(const settings& cfg, const run_request& request,
                                              run_control& control);

}  // namespace pgship::agent
