// `pgship-agent restore --globals [--id ID]`: the newest globals backup (or ID) from the
// receiver, its sha256 checked, decrypted and decompressed, applied to the restore's target
// server (POSTGRES_*). Roles and tablespaces the server already has are left as they are and
// named; the rest is applied in one transaction, or not at all.

#include <iostream>

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/log.hpp>

#include "child_process.hpp"
#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "net/receiver_api.hpp"
#include "pipeline/fetch_restore.hpp"
#include "pipeline/globals_restore.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

// Roles and tablespaces of a whole cluster: a few MiB at most.
constexpr std::uint64_t globals_limit = 256ull * 1024 * 1024;

net::awaitable<stage_error> find_globals(http_client& client, const settings& cfg,
                                         const std::string& id, remote_backup& out) {
  std::vector<remote_backup> backups;
  // Not ?database=globals: that names a database; the kind is in each record's id.
  if (auto error = co_await list_remote_backups(client, cfg.backup_api_token, "", backups)) {
    co_return error;
  }
  for (const auto& b : backups) {  // newest first
    if (!id.empty() && b.id != id) continue;
    if (b.kind != backup_kind::globals) {
      if (id.empty()) continue;
      co_return fail(errc::restore_failed, b.id + " is not a globals backup");
    }
    out = b;
    co_return stage_error{};
  }
  co_return fail(errc::restore_failed, id.empty() ? "the receiver has no globals backup (GLOBALS "
                                                    "ships one with every full run)"
                                                  : "the receiver has no backup " + id);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

int command_restore_globals(const settings& cfg, const restore_options& opts) {
  if (!cfg.upload) {
    std::cerr << "pgship-agent: restore needs a receiver, but UPLOAD=off\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (!opts.target_db.empty() || !opts.database.empty() || opts.clean || opts.create ||
      opts.no_owner || opts.jobs != 1) {
    std::cerr << "pgship-agent: restore --globals applies roles and tablespaces to the server of "
                 "POSTGRES_HOST/POSTGRES_PORT; it takes --id or --latest only\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (opts.latest && !opts.id.empty()) {
    std::cerr << "pgship-agent: restore --globals takes --id ID or --latest, not both\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (const int bad = check_id_and_jobs(opts.id, 1)) return bad;
  const auto child = std::make_shared<child_handle>();
  return run_command(
      [&]() -> net::awaitable<int> {
        auto client = make_receiver_client(co_await net::this_coro::executor, cfg);
        remote_backup backup;
        auto error = co_await find_globals(*client, cfg, opts.id, backup);
        std::string script;
        if (!error) {
          log::write(spdlog::level::info, "restoring the globals of " + backup.id,
                     {{"bytes", backup.size}});
          fetch_restore_io io{*client, cfg.backup_api_token, cfg.pg_dump_path,
                              cfg.backup_dir / ".restore", child};
          io.identities = cfg.age_identities;
          error = co_await fetch_plaintext(io, backup, script, globals_limit);
        }
        globals_applied applied;
        if (!error) {
          const pg_login target{cfg.postgres_host, cfg.postgres_port, cfg.postgres_user,
                                cfg.postgres_password, "postgres"};
          error = apply_globals(target, script, applied);
        }
        if (!applied.kept_roles.empty()) {
          log::write(spdlog::level::info, "roles already on the server were left as they were",
                     {{"roles", joined(applied.kept_roles)}});
          std::cout << "left as they were (already on the server): roles "
                    << joined(applied.kept_roles) << "\n";
        }
        if (!applied.kept_tablespaces.empty()) {
          std::cout << "left as they were (already on the server): tablespaces "
                    << joined(applied.kept_tablespaces) << "\n";
        }
        if (error) {
          std::cerr << "pgship-agent: " << error.message << "\n";
          co_return error.code.value();
        }
        std::cout << fmt::format("restored the globals of {} (sha256 {}): {} statements applied\n",
                                 backup.id, backup.sha256.substr(0, 16), applied.statements);
        co_return 0;
      },
      [child] { child->kill(); });
}

}  // namespace pgship::agent
