#pragma once
// What the agent tells the receiver after a run, for its status page (POST
// /api/backup/reports): each drill's result, and after every run its schedule, so that the
// page can tell a late backup from one not due yet. Never part of a run's result: a report
// that cannot be sent is logged.

#include <vector>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/wire/report.hpp>

#include "pipeline/run_record.hpp"
#include "settings.hpp"

namespace pgship::agent {

std::vector<wire::report> reports_of(const settings& cfg, const run_record& run);

/// Sends `reports_of(cfg, run)` to BACKUP_API_URL (nothing with UPLOAD=off); a failure is
/// logged. Takes copies: the daemon spawns it and forgets the run.
boost::asio::awaitable<void> send_reports(settings cfg, run_record run);

}  // namespace pgship::agent
