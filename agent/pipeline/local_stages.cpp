#include "pipeline/local_stages.hpp"
#include <chrono>

#include "pipeline/backup_prep.hpp"
#include "pipeline/ship.hpp"
#include "repository/commit.hpp"
#include "repository/local_room.hpp"
#include "repository/rotation.hpp"

namespace pgship::agent {

namespace net = boost::asio;

// BACKUP_DIR too full after a long outage: the backups waiting for the receiver go first, and
// rotation may then remove them, so a full disk never blocks the very catch-up that frees it.
net::awaitable<stage_error> make_room(backup_context& ctx) {
  const auto& cfg = ctx.cfg;
  auto error =
      check_local_room(cfg.backup_dir, ctx.run.database, ctx.kind(), cfg.backup_dir_min_free);
  if (!error || !cfg.upload || ctx.client == nullptr || ctx.upload_blocked) co_return error;
  ctx.log.warn("{}; shipping the backups that wait for the receiver first", error.message);
  co_await ship_earlier(ctx, "");
  if (auto rotate_error = rotate_stage(ctx)) co_return rotate_error;
  co_return check_local_room(cfg.backup_dir, ctx.run.database, ctx.kind(), cfg.backup_dir_min_free);
}

stage_error rotate_stage(backup_context& ctx) {
  auto clock = ctx.start_stage("rotate");
  const auto rule = local_rotation_rule(ctx.cfg);
  rotate_output out;
  auto error = rotate_local(ctx.cfg.backup_dir, ctx.run.database, ctx.kind(), rule,
                            std::chrono::system_clock::now(), out);
  clock.done(0, !error);
  ctx.run.rotated = out.removed;
  ctx.run.local_backups = out.kept;
  for (const auto& name : out.removed)
    ctx.log.info("rotated away {}", name);
  if (out.kept_not_uploaded > 0) {
    ctx.log.warn("kept {} old backups beyond the rotation rule: their upload has not succeeded",
                 out.kept_not_uploaded);
  }
  return error;
}

net::awaitable<stage_error> ship_then_rotate(backup_context& ctx, manifest& m) {
  stage_error upload_error;
  if (ctx.cfg.upload) {
    upload_error = co_await upload_stage(ctx, m);
    if (!upload_error) co_await ship_earlier(ctx, m.name);
  }
  // Rotation runs even when the upload failed: it never deletes a backup that is not on
  // the receiver, and it keeps the disk in bounds through a receiver outage.
  auto rotate_error = rotate_stage(ctx);
  co_return upload_error ? upload_error : rotate_error;
}

net::awaitable<stage_error> commit_ship_rotate(backup_context& ctx,
                                               const std::filesystem::path& partial, manifest& m) {
  if (auto error = commit_local_backup(ctx.cfg.backup_dir, partial, m, ctx.log)) co_return error;
  if (ctx.control.stopping()) co_return fail(errc::cancelled, "the run was cancelled");
  co_return co_await ship_then_rotate(ctx, m);
}

}  // namespace pgship::agent
