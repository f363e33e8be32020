#pragma once
// What GET /api/status says of one client (schema pgship.status.v1, README "Status page"):
// per database the newest backup and its age against the reported schedule, the last 30
// sizes with an outlier flagged, the last drills, scrub findings; per system of the physical
// archive the PITR window, the newest WAL's age and the gaps. Pure: the route gathers the
// inputs.

#include <chrono>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include <pgship/common/wire/backup_record.hpp>
#include <pgship/common/wire/wal.hpp>

#include "state/report_book.hpp"

namespace pgship::receiver {

/// A backup is late once it is this many schedule intervals old.
inline constexpr double late_after_intervals = 1.5;
/// Sizes drawn per database.
inline constexpr std::size_t sizes_shown = 30;

boost::json::object client_status(const std::string& client,
                                  const std::vector<wire::backup_record>& records,
                                  const client_reports& reports,
                                  const std::vector<wire::wal::archive_state>& archives,
                                  std::chrono::system_clock::time_point now);

}  // namespace pgship::receiver
