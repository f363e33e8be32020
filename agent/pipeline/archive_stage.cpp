#include "pipeline/archive_stage.hpp"
#include <chrono>
#include <system_error>

#include <pgship/common/backup_name.hpp>

#include "pipeline/archive.hpp"
#include "pipeline/backup_prep.hpp"
#include "pipeline/local_stages.hpp"
#include "repository/manifest_builder.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace stdfs = std::filesystem;
using sys_clock = std::chrono::system_clock;

net::awaitable<stage_error> backup_archive_dir(backup_context& ctx, const archive_dir& dir) {
  const auto format = stored_format_of(ctx.cfg);
  const auto codec = codec_settings_of(ctx.cfg);
  const auto extension = io::stored_extension(base_extension(backup_kind::archive), format);
  auto name = co_await fresh_name(ctx.cfg, dir.name, extension);
  auto start = ctx.start_manifest(std::move(name));
  start.compression = io::to_string(format.compress);
  start.compress_level = 0;
  auto m = new_manifest(start);
  ctx.run.backup = m.name;
  if (auto error = co_await make_room(ctx)) co_return error;
  const auto partial = ctx.cfg.backup_dir / ".partial" / m.name;
  archive_output out;
  {
    auto clock = ctx.start_stage("dump");
    archive_request ar;
    ar.directory = dir.path;
    ar.output = partial;
    ar.format = format;
    ar.codec = codec;
    ar.handle = ctx.control.child;
    ar.log = ctx.log;
    auto error = co_await run_archive(ar, out);
    clock.done(out.bytes, !error);
    if (error) co_return error;
  }
  {
    auto clock = ctx.start_stage("verify");
    // An encrypted archive was listed from a tee while written; the agent cannot read it.
    stage_error error;
    if (!format.encrypted()) {
      error = co_await verify_archive(partial, format, out.digest, out);
    } else if (!out.listed) {
      error = fail(errc::verify_failed, out.list_problem);
    }
    clock.done(format.encrypted() ? 0 : out.bytes, !error);
    if (error) {
      std::error_code ignored;
      stdfs::remove(partial, ignored);
      co_return error;
    }
  }
  ctx.run.size = out.bytes;
  ctx.run.sha256 = to_hex(out.digest);
  ctx.log.info("archived {} ({} entries, {} bytes), sha256 {}", dir.path.string(), out.entries,
               out.bytes, ctx.run.sha256);
  record_stored(m, stored_bytes_of(format, codec, out), sys_clock::now());
  co_return co_await commit_ship_rotate(ctx, partial, m);
}

}  // namespace pgship::agent
