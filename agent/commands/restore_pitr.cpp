// `pgship-agent restore --pitr --at TIME|LSN|latest --target-dir DIR`: a point-in-time
// recovery set up from the receiver. The newest complete base backup that ends before the
// target is unpacked into DIR through the chain (its sha256 checked, decrypted, decompressed),
// PostgreSQL's own pg_verifybackup checks every file against the backup's manifest, and DIR gets
// recovery.signal and the recovery settings: wal-fetch as restore_command, the target,
// timeline latest, promote there. wal-fetch's settings file and spool sit beside DIR, never in
// it, so a later base backup of the recovered cluster does not carry them. Starting
// PostgreSQL on DIR then recovers to the target. Anything that fails removes what it made.

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <utility>

#include <boost/asio/this_coro.hpp>
#include <unistd.h>

#include <pgship/common/fs.hpp>
#include <pgship/common/time_text.hpp>
#include <pgship/common/wire/wal.hpp>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "net/receiver_api.hpp"
#include "net/wal_api.hpp"
#include "pg_tools.hpp"
#include "pipeline/basebackup_unpack.hpp"
#include "pipeline/pitr_plan.hpp"
#include "pipeline/pitr_start.hpp"
#include "wal/server_facts.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace stdfs = std::filesystem;

namespace {

// Where wal-fetch's settings and spool go: beside DIR, named after it.
stdfs::path side_dir_of(const stdfs::path& dir) {
  return dir.parent_path() / (dir.filename().string() + ".pgship-recovery");
}

// Which archive: --system, PITR_SYSTEM, else the configured server's own identifier.
stage_error system_to_restore(const settings& cfg, const pitr_restore_options& opts,
                              std::string& out) {
  out = !opts.system.empty() ? opts.system : cfg.pitr_system;
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

// Leaves DIR as it was before (absent, or empty) and removes the side directory.
void undo(const stdfs::path& dir, bool created) {
  std::error_code ec;
  if (created) {
    stdfs::remove_all(dir, ec);
  } else {
    for (const auto& e : stdfs::directory_iterator(dir, ec))
      stdfs::remove_all(e.path(), ec);
  }
  stdfs::remove_all(side_dir_of(dir), ec);
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

// wal-fetch runs as this process's user (DIR's owner): the files its settings name must be
// readable now, or recovery would stop at its first segment.
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

}  // namespace

int command_restore_pitr(const settings& cfg, const pitr_restore_options& opts) {
  std::string why;
  const auto target = parse_pitr_target(opts.at, why);
  if (!target) {
    std::cerr << "pgship-agent: " << why << "\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (opts.target_dir.empty()) {
    std::cerr << "pgship-agent: restore --pitr needs --target-dir DIR (empty or new)\n";
    return static_cast<int>(errc::config_invalid);
  }
  const auto dir = stdfs::absolute(opts.target_dir).lexically_normal();
  return run_command([&]() -> net::awaitable<int> {
    const auto failed = [](const stage_error& e) {
      std::cerr << "pgship-agent: " << e.message << "\n";
      return e.code.value();
    };
    std::string system;
    if (auto e = system_to_restore(cfg, opts, system)) co_return failed(e);
    if (auto e = check_readable_by_wal_fetch(cfg)) co_return failed(e);
    const auto ex = co_await net::this_coro::executor;
    wal_api archive(make_receiver_client(ex, cfg), cfg.backup_api_token, system);
    wire::wal::archive_state state;
    if (auto e = co_await archive.get_state(state)) co_return failed(e);
    state.system = system;
    const auto chosen = choose_base_backup(state, *target, why);
    if (!chosen) co_return failed(fail(errc::restore_refused, why));

    auto client = make_receiver_client(ex, cfg);
    std::vector<remote_backup> listed;
    if (auto e = co_await list_remote_backups(*client, cfg.backup_api_token, "", listed))
      co_return failed(e);
    const remote_backup* backup = nullptr;
    for (const auto& b : listed)
      if (b.id == chosen->id) backup = &b;
    if (backup == nullptr) {
      co_return failed(fail(errc::restore_failed, "the receiver lists no stored " + chosen->id +
                                                      " (its completion mark names it)"));
    }

    bool created = false;
    if (auto e = prepare_target(dir, created)) co_return failed(e);
    std::cout << "restoring " << chosen->id << " (timeline " << chosen->timeline << ", "
              << pgship::wal::format_lsn(chosen->start_lsn) << " to "
              << pgship::wal::format_lsn(chosen->stop_lsn) << ") into " << dir.string() << "\n";
    std::vector<stage_record> stages;
    fetch_restore_io io{*client, cfg.backup_api_token, cfg.pg_dump_path, {}, nullptr};
    io.identities = cfg.age_identities;
    stage_error error = co_await fetch_and_untar(io, *backup, dir, stages);
    pg_toolset tools;
    if (!error) error = co_await tools_for(cfg, dir, tools);
    if (!error) error = co_await verify_files(tools, dir);

    const auto side = side_dir_of(dir);
    const auto spool = side / "spool";
    const auto fetch_env = side / "fetch.env";
    if (!error) {
      // A spool left by an earlier restore to the same DIR may hold another archive's
      // segments: it goes with this restore.
      std::error_code ec;
      stdfs::remove_all(side, ec);
      stdfs::create_directories(spool, ec);
      stdfs::permissions(side, stdfs::perms::owner_all, ec);
      if (ec)
        error = fail(errc::local_io_failed, "creating " + side.string() + ": " + ec.message());
    }
    if (!error) error = write_private(fetch_env, fetch_settings(cfg, system, spool));
    if (!error) {
      std::error_code ec;
      const auto self = stdfs::read_symlink("/proc/self/exe", ec);
      const std::string restore_command =
          shell_quoted(ec ? std::string("pgship-agent") : self.string()) +
          " wal-fetch %f %p --config " + shell_quoted(fetch_env.string());
      error = write_private(dir / "postgresql.auto.conf",
                            "\n" + recovery_settings(*target, restore_command), true);
    }
    if (!error) error = write_private(dir / "recovery.signal", "");
    if (error) {
      undo(dir, created);
      co_return failed(error);
    }
    if (!opts.start) {
      std::cout << "recovery to " << target->text << " is set up in " << dir.string()
                << " (wal-fetch settings and spool in " << side.string()
                << "); start PostgreSQL on it to recover: pg_ctl -D " << dir.string() << " start\n";
      co_return 0;
    }
    recovery_outcome recovered;
    if (auto e = co_await start_recovery(tools, dir, side, recovered)) co_return failed(e);
    const auto& port = recovered.port;
    std::cout << "recovered to " << target->text << ": "
              << (recovered.said.empty() ? "(no word in the log)" : recovered.said)
              << "\nthe server runs on " << dir.string() << ", socket " << side.string() << " port "
              << port << " only (psql -h " << side.string() << " -p " << port
              << "); restart it with its own settings when it is checked\n";
    co_return 0;
  });
}

}  // namespace pgship::agent
