#include "pipeline/pitr_recovery.hpp"
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unistd.h>

#include "net/receiver_api.hpp"
#include "net/wal_api.hpp"
#include "pipeline/basebackup_unpack.hpp"
#include "wal/server_facts.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace stdfs = std::filesystem;

namespace {

// DIR must be absent or empty: a recovery never writes over a cluster.
stage_error prepare_target(const stdfs::path& dir, bool& created) {
  std::error_code ec;
  created = !stdfs::exists(dir, ec);
  if (!created && !stdfs::is_empty(dir, ec)) {
    return fail(errc::restore_refused, dir.string() +
                                           " is not empty: give an empty or new "
                                           "directory (a recovery never writes over "
                                           "a cluster)");
  }
  if (created && !stdfs::create_directories(dir, ec) && ec)
    return fail(errc::local_io_failed, "creating " + dir.string() + ": " + ec.message());
  stdfs::permissions(dir, stdfs::perms::owner_all, ec);  // PostgreSQL wants 0700
  return {};
}

// A word for the shell PostgreSQL runs restore_command with: 'it'\''s'.
std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

stage_error write_private(const stdfs::path& path, const std::string& text, bool append = false) {
  const auto mode = append ? std::ios::app : std::ios::trunc;
  {
    std::ofstream out(path, std::ios::binary | mode);
    out << text;
    out.close();
    if (!out) return fail(errc::local_io_failed, "cannot write " + path.string());
  }
  std::error_code ec;
  stdfs::permissions(path, stdfs::perms::owner_read | stdfs::perms::owner_write, ec);
  return {};
}

// wal-fetch's settings: the receiver, the token, the keys, the archive and the spool; nothing
// else of this agent's configuration.
std::string fetch_settings(const settings& cfg, const std::string& system,
                           const stdfs::path& spool) {
  std::string out =
      "# written by pgship-agent restore --pitr for wal-fetch (restore_command)\n"
      "BACKUP_API_URL=" +
      cfg.backup_api_url + "\nBACKUP_API_TOKEN=" + cfg.backup_api_token + "\n";
  if (cfg.ca_file) out += "CA_FILE=" + cfg.ca_file->string() + "\n";
  if (cfg.client_cert_file) out += "CLIENT_CERT_FILE=" + cfg.client_cert_file->string() + "\n";
  if (cfg.client_key_file) out += "CLIENT_KEY_FILE=" + cfg.client_key_file->string() + "\n";
  if (cfg.age_identity_file) out += "AGE_IDENTITY_FILE=" + cfg.age_identity_file->string() + "\n";
  out += "PITR_SYSTEM=" + system + "\nPITR_SPOOL=" + spool.string() + "\nLOG_LEVEL=warn\n";
  return out;
}

// The client tools of the backup's major version: pg_dump's directory, where Debian's packages
// also put pg_verifybackup, pg_ctl and pg_controldata.
net::awaitable<stage_error> tools_for(const settings& cfg, const stdfs::path& dir,
                                      pg_toolset& tools) {
  std::string version;
  {
    std::ifstream in(dir / "PG_VERSION");
    std::getline(in, version);
  }
  int major = 0;
  try {
    major = std::stoi(version);
  } catch (const std::exception&) {
    co_return fail(errc::restore_failed, "the base backup holds no PG_VERSION");
  }
  co_return co_await choose_tools(cfg.pg_dump_path, major, tools);
}

// PostgreSQL's check of every file against the backup's manifest (-n: the WAL comes later).
net::awaitable<stage_error> verify_files(const pg_toolset& tools, const stdfs::path& dir) {
  pg_tool verifier;
  if (auto e = co_await find_tool_beside(tools.dump, "pg_verifybackup", "restore --pitr", verifier))
    co_return e;
  child_spec spec;
  spec.program = verifier.path;
  spec.args = {"--no-parse-wal", "--quiet", dir.string()};
  std::string said;
  const auto result = co_await run_child_capture(spec, said);
  if (!result.ok()) {
    co_return fail(errc::hash_mismatch, "pg_verifybackup refused the unpacked base backup (" +
                                            result.describe() + "): " + result.last_error_line());
  }
  co_return stage_error{};
}

// Whether to ask the receiver again: it throttled (429) or was busy (503) before `until`, as
// wal-fetch waits those out (a recovery right after many reads, a drill after a restore, must
// not fail on them); a second's pause first.
net::awaitable<bool> again_after_throttle(const stage_error& e,
                                          std::chrono::steady_clock::time_point until) {
  if (e.code != make_error_code(errc::receiver_unhealthy) ||
      std::chrono::steady_clock::now() >= until) {
    co_return false;
  }
  net::steady_timer pause(co_await net::this_coro::executor, std::chrono::seconds(1));
  co_await pause.async_wait(net::use_awaitable);
  co_return true;
}

}  // namespace

stdfs::path recovery_side_dir(const stdfs::path& dir) {
  return dir.parent_path() / (dir.filename().string() + ".pgship-recovery");
}

stage_error archive_system(const settings& cfg, const std::string& given, std::string& out) {
  out = !given.empty() ? given : cfg.pitr_system;
  if (out.empty()) {
    wal::server_identity id;
    if (auto error = wal::identify_system(cfg, id)) {
      return fail(errc::config_invalid,
                  "which archive? give --system (or PITR_SYSTEM); the configured server "
                  "cannot say (" +
                      error.message + ")");
    }
    out = id.system;
  }
  if (!wire::wal::is_system_id(out))
    return fail(errc::config_invalid, "--system must be a system identifier (decimal digits)");
  return {};
}

stage_error check_readable_by_wal_fetch(const settings& cfg) {
  for (const auto& [key, path] :
       {std::pair{"AGE_IDENTITY_FILE", cfg.age_identity_file}, std::pair{"CA_FILE", cfg.ca_file},
        std::pair{"CLIENT_CERT_FILE", cfg.client_cert_file},
        std::pair{"CLIENT_KEY_FILE", cfg.client_key_file}}) {
    if (path && ::access(path->c_str(), R_OK) != 0) {
      return fail(errc::config_invalid, std::string(key) + "=\"" + path->string() +
                                            "\" cannot be read by the user the " +
                                            "recovered server runs as (" + std::strerror(errno) +
                                            "): wal-fetch reads it during recovery");
    }
  }
  return {};
}

void undo_recovery(const stdfs::path& dir, bool created) {
  std::error_code ec;
  if (created) {
    stdfs::remove_all(dir, ec);
  } else {
    for (const auto& e : stdfs::directory_iterator(dir, ec))
      stdfs::remove_all(e.path(), ec);
  }
  stdfs::remove_all(recovery_side_dir(dir), ec);
}

net::awaitable<stage_error> prepare_recovery(const settings& cfg, const recovery_request& request,
                                             std::vector<stage_record>& stages,
                                             recovery_prepared& out) {
  const auto& dir = request.dir;
  const auto say = [&](const std::string& text) {
    if (request.say) request.say(text);
  };
  const auto ex = co_await net::this_coro::executor;
  wal_api archive(make_receiver_client(ex, cfg), cfg.backup_api_token, request.system);
  wire::wal::archive_state state;
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (;;) {
    auto e = co_await archive.get_state(state);
    if (!e) break;
    if (!co_await again_after_throttle(e, until)) co_return e;
  }
  state.system = request.system;
  auto client = make_receiver_client(ex, cfg);
  std::vector<remote_backup> listed;
  for (;;) {
    auto e = co_await list_remote_backups(*client, cfg.backup_api_token, "", listed);
    if (!e) break;
    if (!co_await again_after_throttle(e, until)) co_return e;
  }
  // Only base backups still stored can be chosen: retention may have removed one whose
  // completion mark stays (an older one then serves, its WAL is kept).
  std::erase_if(state.basebackups, [&](const wire::wal::basebackup_mark& mark) {
    return std::none_of(listed.begin(), listed.end(),
                        [&](const remote_backup& b) { return b.id == mark.id; });
  });
  std::string why;
  const auto chosen = choose_base_backup(state, request.target, why);
  if (!chosen) co_return fail(errc::restore_refused, why);
  out.backup = *chosen;
  out.archive_end = state.durable_end();
  const remote_backup* backup = nullptr;
  for (const auto& b : listed)
    if (b.id == chosen->id) backup = &b;

  if (auto e = prepare_target(dir, out.created)) co_return e;
  say("restoring " + chosen->id + " (timeline " + std::to_string(chosen->timeline) + ", " +
      pgship::wal::format_lsn(chosen->start_lsn) + " to " +
      pgship::wal::format_lsn(chosen->stop_lsn) + ") into " + dir.string());
  fetch_restore_io io{*client, cfg.backup_api_token, cfg.pg_dump_path, {}, request.child};
  io.identities = cfg.age_identities;
  io.progress = request.progress;
  io.progress_label = std::string(basebackup_name);
  bool needs_verifybackup = false;
  stage_error error = co_await fetch_and_unpack(io, *backup, dir, stages, needs_verifybackup);
  if (!error) error = co_await tools_for(cfg, dir, out.tools);
  if (!error && needs_verifybackup) {
    // A manifest without SHA-256 checksums (taken by another tool): PostgreSQL's own check.
    stage_clock verify(stages, "verify");
    error = co_await verify_files(out.tools, dir);
    verify.done(0, !error);
  }

  out.side = recovery_side_dir(dir);
  const auto spool = out.side / "spool";
  const auto fetch_env = out.side / "fetch.env";
  if (!error) {
    // A spool left by an earlier restore to the same DIR may hold another archive's
    // segments: it goes with this restore.
    std::error_code ec;
    stdfs::remove_all(out.side, ec);
    stdfs::create_directories(spool, ec);
    stdfs::permissions(out.side, stdfs::perms::owner_all, ec);
    if (ec)
      error = fail(errc::local_io_failed, "creating " + out.side.string() + ": " + ec.message());
  }
  if (!error) error = write_private(fetch_env, fetch_settings(cfg, request.system, spool));
  if (!error) {
    std::error_code ec;
    const auto self = stdfs::read_symlink("/proc/self/exe", ec);
    const std::string restore_command =
        shell_quoted(ec ? std::string("pgship-agent") : self.string()) +
        " wal-fetch %f %p --config " + shell_quoted(fetch_env.string());
    error = write_private(dir / "postgresql.auto.conf",
                          "\n" + recovery_settings(request.target, restore_command), true);
  }
  if (!error) error = write_private(dir / "recovery.signal", "");
  if (error) undo_recovery(dir, out.created);
  co_return error;
}

}  // namespace pgship::agent
