#include "pipeline/database_backup.hpp"
#include <memory>

#include <boost/asio/this_coro.hpp>

#include <pgship/common/backup_name.hpp>

#include "pipeline/adopt.hpp"
#include "pipeline/backup_prep.hpp"
#include "pipeline/dump_stage.hpp"
#include "pipeline/local_stages.hpp"
#include "pipeline/stream_upload.hpp"
#include "repository/manifest_builder.hpp"

namespace pgship::agent {

namespace net = boost::asio;

net::awaitable<stage_error> backup_database(backup_context& ctx) {
  preflight_output pre;
  {
    auto clock = ctx.start_stage("preflight");
    auto error = co_await preflight(ctx.cfg, ctx.run.database, ctx.tools_by_major, pre);
    clock.done(0, !error);
    if (error) co_return error;
  }
  ctx.run.server_version = pre.server_version;
  ctx.run.pg_dump_version = pre.tools.dump.version;
  ctx.run.database_size = pre.database_size;
  ctx.log.info("database {} is {} bytes on PostgreSQL {}; dumping with pg_dump {}",
               ctx.run.database, pre.database_size, pre.server_version, pre.tools.dump.version);
  if (ctx.control.stopping()) co_return fail(errc::cancelled, "the run was cancelled");
  if (auto error = co_await make_room(ctx)) co_return error;

  const auto extension =
      io::stored_extension(base_extension(backup_kind::dump), stored_format_of(ctx.cfg));
  auto name = co_await fresh_name(ctx.cfg, ctx.run.database, extension);
  auto start = ctx.start_manifest(std::move(name));
  start.pg_dump_version = pre.tools.dump.version;
  start.server_version = pre.server_version;
  start.database_size = pre.database_size;
  start.compression = ctx.cfg.compression;
  start.compress_level = ctx.cfg.compression == "pg_dump" ? ctx.cfg.compress_level : 0;
  auto m = new_manifest(start);
  ctx.run.backup = m.name;
  const auto partial = ctx.cfg.backup_dir / ".partial" / m.name;

  // The upload runs while pg_dump writes, and commits only once the dump verified.
  if (ctx.cfg.upload && ctx.client != nullptr && !ctx.upload_blocked) {
    const auto executor = co_await net::this_coro::executor;
    ctx.follower = std::make_unique<follow_upload>(
        *ctx.client, upload_request_for(ctx.cfg, m, partial, ctx.log), ctx.control, executor);
    const bool following = co_await ctx.follower->begin();
    if (!following) ctx.follower.reset();
  }
  if (auto error = co_await dump_verify_commit(ctx, pre, partial, m)) {
    if (ctx.follower) co_await ctx.follower->abandon();  // nothing of it is committed
    co_return error;
  }
  if (ctx.control.stopping()) {
    if (ctx.follower) co_await ctx.follower->abandon();
    co_return fail(errc::cancelled, "the run was cancelled");
  }

  // The old tool's dumps of this database join the backups to ship and rotate.
  // Named first: GCC 12 destroys an aggregate temporary inside co_await twice.
  adopt_request adopt;
  adopt.dir = ctx.cfg.backup_dir;
  adopt.database = ctx.run.database;
  adopt.pg_restore = pre.tools.restore;
  adopt.upload = ctx.cfg.upload;
  adopt.receiver = ctx.receiver;
  adopt.run_id = ctx.run_id;
  adopt.log = ctx.log;
  adopt.stopping = [&ctx] { return ctx.control.stopping(); };
  adopt_output adopted;
  co_await adopt_old_backups(adopt, adopted);

  co_return co_await ship_then_rotate(ctx, m);
}

}  // namespace pgship::agent
