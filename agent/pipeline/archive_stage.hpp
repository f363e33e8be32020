#pragma once
// The backup of an ARCHIVE_DIRS directory: tar, verify, commit, upload, rotate, like a dump.

#include <boost/asio/awaitable.hpp>

#include "pipeline/backup_context.hpp"
#include "settings.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

boost::asio::awaitable<stage_error> backup_archive_dir(backup_context& ctx, const archive_dir& dir);

}  // namespace pgship::agent
