#include "pipeline/globals_stage.hpp"
#include <chrono>

#include <pgship/common/backup_name.hpp>

#include "pipeline/backup_prep.hpp"
#include "pipeline/globals.hpp"
#include "pipeline/local_stages.hpp"
#include "repository/manifest_builder.hpp"

namespace pgship::agent {

namespace net = boost::asio;
using sys_clock = std::chrono::system_clock;

net::awaitable<stage_error> backup_globals(backup_context& ctx, const std::string& via) {
  preflight_output pre;
  pg_tool dumpall;
  {
    auto clock = ctx.start_stage("preflight");
    auto error = co_await preflight(ctx.cfg, via, ctx.tools_by_major, pre);
    if (!error) error = co_await find_pg_dumpall(pre.tools.dump, dumpall);
    clock.done(0, !error);
    if (error) co_return error;
  }
  ctx.run.server_version = pre.server_version;
  ctx.run.pg_dump_version = dumpall.version;
  const auto format = stored_format_of(ctx.cfg);
  const auto codec = codec_settings_of(ctx.cfg);
  const auto extension = io::stored_extension(base_extension(backup_kind::globals), format);
  auto name = co_await fresh_name(ctx.cfg, ctx.run.database, extension);
  auto start = ctx.start_manifest(std::move(name));
  start.kind = to_string(backup_kind::globals);
  start.pg_dump_version = dumpall.version;
  start.server_version = pre.server_version;
  start.compression = io::to_string(format.compress);
  start.compress_level = 0;
  auto m = new_manifest(start);
  ctx.run.backup = m.name;
  const auto partial = ctx.cfg.backup_dir / ".partial" / m.name;
  globals_output out;
  {
    auto clock = ctx.start_stage("dump");
    globals_request gr;
    gr.login = {ctx.cfg.postgres_host, ctx.cfg.postgres_port, ctx.cfg.postgres_user,
                ctx.cfg.postgres_password, via};
    gr.pg_dumpall = dumpall;
    gr.output = partial;
    gr.format = format;
    gr.codec = codec;
    gr.handle = ctx.control.child;
    gr.log = ctx.log;
    auto error = co_await run_globals(gr, out);
    clock.done(out.bytes, !error);
    if (error) co_return error;
  }
  // Checked as it passed (exit 0, the trailer), and hashed as written.
  ctx.start_stage("verify").done(out.plain_bytes, true);
  ctx.run.size = out.bytes;
  ctx.run.sha256 = to_hex(out.digest);
  ctx.log.info("dumped the globals ({} roles, {} bytes), sha256 {}", out.roles.size(), out.bytes,
               ctx.run.sha256);
  m.roles = out.roles;
  m.role_passwords = out.role_passwords;
  record_stored(m, stored_bytes_of(format, codec, out), sys_clock::now());
  co_return co_await commit_ship_rotate(ctx, partial, m);
}

}  // namespace pgship::agent
