#pragma once
// Shipping local backups to the receiver: this run's backup (its "upload" stage) and the
// catch-up of earlier ones still unshipped, each outcome recorded in the backup's manifest.

#include <string>

#include <boost/asio/awaitable.hpp>

#include "pipeline/backup_context.hpp"
#include "repository/manifest.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// The "upload" stage of this run's backup `m`. When the run cannot upload, `m` stays local,
/// recorded as failed, and the stage fails with the reason.
boost::asio::awaitable<stage_error> upload_stage(backup_context& ctx, manifest& m);

/// Ships the earlier backups of this database and kind still waiting for the receiver, oldest
/// first, all but `current`; the first failure ends the catch-up until the next run.
boost::asio::awaitable<void> ship_earlier(backup_context& ctx, const std::string& current);

}  // namespace pgship::agent
