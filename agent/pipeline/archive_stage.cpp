#include "pipeline/archive_stage.hpp"
#include <chrono>
#include <system_error>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/time_text.hpp>

#include "pipeline/archive.hpp"
#include "pipeline/backup_prep.hpp"
#include "pipeline/local_stages.hpp"
#include "pipeline/manifest.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace stdfs = std::filesystem;
using sys_clock = std::chrono::system_clock;

net::awaitable<stage_error> backup_archive_dir(backup_context& ctx, const archive_dir& dir) {
  const auto format = stored_format_of(ctx.cfg);
  const auto codec = codec_settings_of(ctx.cfg);
  manifest m;
  const auto extension = io::stored_extension(base_extension(backup_kind::archive), format);
  m.name = co_await fresh_name(ctx.cfg, dir.name, extension);
  ctx.run.backup = m.name;
  m.database = dir.name;
  m.compression = io::to_string(format.compress);
  m.compress_level = 0;
  m.agent_host = host_name();
  m.run_id = ctx.run_id;
  m.started = format_utc(sys_clock::now());
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
  describe_stored(m, out, format, codec);
  co_return co_await commit_ship_rotate(ctx, partial, m);
}

}  // namespace pgship::agent
