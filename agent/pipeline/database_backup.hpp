#pragma once
// The backup of one database: pre-flight, room on BACKUP_DIR, dump with the upload following
// it, verify, commit, the old tool's dumps adopted, then upload and rotation.

#include <boost/asio/awaitable.hpp>

#include "pipeline/backup_context.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

boost::asio::awaitable<stage_error> backup_database(backup_context& ctx);

}  // namespace pgship::agent
