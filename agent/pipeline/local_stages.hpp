#pragma once
// The steps of a backup on BACKUP_DIR around the producer: room before it starts, and after the
// commit the upload (with the earlier backups still unshipped) and rotation.

#include <filesystem>

#include <boost/asio/awaitable.hpp>

#include "pipeline/backup_context.hpp"
#include "repository/manifest.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// Whether BACKUP_DIR has room for another backup of this database and kind; when it has not,
/// the backups waiting for the receiver are shipped and rotated first.
boost::asio::awaitable<stage_error> make_room(backup_context& ctx);

/// The "rotate" stage: the local backups of this database and kind beyond the rotation rule go.
stage_error rotate_stage(backup_context& ctx);

/// After the commit of `m`: uploads it and then the earlier unshipped ones (UPLOAD set), and
/// rotates. The upload's error wins over rotation's.
boost::asio::awaitable<stage_error> ship_then_rotate(backup_context& ctx, manifest& m);

/// Commits the producer's `partial` as `m` (its stored bytes recorded), then ships and rotates
/// unless the run was cancelled.
boost::asio::awaitable<stage_error> commit_ship_rotate(backup_context& ctx,
                                                       const std::filesystem::path& partial,
                                                       manifest& m);

}  // namespace pgship::agent
