// `pgship-agent restore`: fetch a backup from the receiver, prove it is the one the receiver
// vouches for (SHA-256 computed while downloading), and pg_restore it into a target database
// in one transaction, never over a non-empty database unless asked to (--clean).

#include <iostream>
#include <set>

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/log.hpp>

#include "child_process.hpp"
#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "net/receiver_api.hpp"
#include "pg_connection.hpp"
#include "pipeline/backup_at.hpp"
#include "pipeline/fetch_restore.hpp"
#include "pipeline/manifest_source.hpp"
#include "pipeline/timescaledb_restore.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

net::awaitable<stage_error> find_backup(http_client& client, const settings& cfg,
                                        const restore_options& opts, remote_backup& out) {
  std::vector<remote_backup> backups;
  if (!opts.at.empty()) {
    std::string why;
    const auto at = parse_backup_time(opts.at, why);
    if (!at) co_return fail(errc::config_invalid, why);
    if (auto error =
            co_await list_remote_backups(client, cfg.backup_api_token, opts.database, backups)) {
      co_return error;
    }
    auto chosen = dump_at(backups, opts.database, *at, why);
    if (!chosen) co_return fail(errc::restore_failed, why);
    log::write(spdlog::level::info,
               "restore --at " + opts.at + ": " + chosen->id + ", taken " + chosen->taken, {});
    out = std::move(*chosen);
    co_return stage_error{};
  }
  const auto database = opts.latest ? opts.database : std::string();
  if (auto error = co_await list_remote_backups(client, cfg.backup_api_token, database, backups)) {
    co_return error;
  }
  if (opts.latest && database.empty()) {
    // The newest backup of whichever database would restore the wrong one into the target.
    std::set<std::string> databases;
    for (const auto& b : backups)
      if (b.kind == backup_kind::dump) databases.insert(b.database);
    if (databases.size() > 1) {
      std::string names;
      for (const auto& name : databases)
        names += (names.empty() ? "" : ", ") + name;
      co_return fail(errc::config_invalid,
                     "restore --latest needs --database: the receiver holds backups of " +
                         std::to_string(databases.size()) + " databases for this token (" + names +
                         ")");
    }
  }
  for (const auto& b : backups) {
    // The newest pg_dump archive: an ARCHIVE_DIRS tarball or the globals (`restore --globals`)
    // is not restored with pg_restore, also not when a database has their name.
    if (b.kind != backup_kind::dump && (opts.latest || b.id == opts.id)) {
      if (opts.latest) continue;
      co_return fail(errc::restore_failed,
                     b.id + " is not a database's dump" +
                         (b.kind == backup_kind::globals ? " (restore it with --globals)" : ""));
    }
    if (opts.latest || b.id == opts.id) {  // the list is newest first
      out = b;
      co_return stage_error{};
    }
  }
  std::string message = "the receiver has no backup " + opts.id;
  if (opts.latest) {
    message = "the receiver has no backups";
    if (!database.empty()) message += " of database " + database;
  }
  co_return fail(errc::restore_failed, std::move(message));
}

pg_connection open_admin(const settings& cfg, stage_error& error) {
  return pg_connection::open(
      {cfg.postgres_host, cfg.postgres_port, cfg.postgres_user, cfg.postgres_password, "postgres"},
      error);
}

// The target must exist (or --create it) and be empty unless --clean. Checked before the
// download; a target this restore creates (`must_create`) is dropped again when the restore
// does not complete, so a bad backup leaves no empty database behind.
stage_error check_target(const settings& cfg, const restore_options& opts,
                         const std::string& timescaledb_version, bool& must_create) {
  stage_error error;
  auto admin = open_admin(cfg, error);
  if (error) return error;
  if (!timescaledb_version.empty()) {
    if (auto refused = check_timescaledb_offered(admin, timescaledb_version)) return refused;
    if (opts.clean) {
      // pg_restore --clean drops the objects, not the rows of TimescaleDB's catalog, which
      // the restore would then insert a second time.
      return fail(errc::restore_refused,
                  "a TimescaleDB backup cannot be restored over a database with --clean; restore "
                  "into a new one (--create), then swap the names");
    }
  }
  const auto exists = admin.query_value(
      "SELECT count(*) FROM pg_database WHERE datname = " + admin.quote_literal(opts.target_db),
      error);
  if (error) return error;
  if (*exists == "0") {
    if (!opts.create) {
      return fail(errc::restore_failed, "target database " + opts.target_db +
                                            " does not exist (use --create to create it)");
    }
    must_create = true;
    return {};
  }
  auto target = pg_connection::open({cfg.postgres_host, cfg.postgres_port, cfg.postgres_user,
                                     cfg.postgres_password, opts.target_db},
                                    error);
  if (error) return error;
  const auto relations = target.query_value(
      "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' "
      "AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') "
      // An extension created ahead (TimescaleDB at the backup's version) is not content.
      "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
      "AND d.objid = c.oid AND d.deptype = 'e')",
      error);
  if (error) return error;
  if (*relations != "0" && !opts.clean) {
    return fail(errc::restore_failed, "target database " + opts.target_db + " is not empty (" +
                                          *relations +
                                          " relations); use --clean to replace what "
                                          "the backup contains");
  }
  return {};
}

stage_error create_target(const settings& cfg, const std::string& name) {
  stage_error error;
  auto admin = open_admin(cfg, error);
  if (error) return error;
  if (auto created = admin.execute("CREATE DATABASE " + admin.quote_identifier(name))) {
    return fail(errc::restore_failed, "cannot create database " + name + ": " + created.message +
                                          " (the role needs CREATEDB)");
  }
  return {};
}

// What this run created goes again when the restore did not complete.
void drop_created_target(const settings& cfg, const std::string& name) {
  stage_error error;
  auto admin = open_admin(cfg, error);
  if (!error) error = admin.execute("DROP DATABASE IF EXISTS " + admin.quote_identifier(name));
  if (error) {
    log::write(spdlog::level::warn, "cannot drop database " + name + " created by this restore",
               {{"error", error.message}});
  }
}

}  // namespace

int command_restore(const settings& cfg, const restore_options& opts) {
  if (opts.globals) return command_restore_globals(cfg, opts);
  if (!cfg.upload) {
    std::cerr << "pgship-agent: restore needs a receiver, but UPLOAD=off\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (int(opts.latest) + int(!opts.id.empty()) + int(!opts.at.empty()) != 1 ||
      opts.target_db.empty()) {
    std::cerr << "pgship-agent: restore needs one of --id ID, --latest or --at TIME, and "
                 "--target-db NAME\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (const int bad = check_id_and_jobs(opts.id, opts.jobs)) return bad;
  // pg_restore would read a --dbname with '=' or a URI prefix as a connection string, and
  // then restore somewhere else than the database checked for emptiness.
  if (!fs::is_safe_name(opts.target_db)) {
    std::cerr << "pgship-agent: --target-db must be a database name ([A-Za-z0-9._-]+)\n";
    return static_cast<int>(errc::config_invalid);
  }
  const auto child = std::make_shared<child_handle>();
  return run_command(
      [&]() -> net::awaitable<int> {
        const auto started = std::chrono::steady_clock::now();
        const auto ex = co_await net::this_coro::executor;
        auto client = make_receiver_client(ex, cfg);
        live_progress progress;
        progress_watch watch(ex, progress, opts.progress, "restore", {});
        remote_backup backup;
        if (auto error = co_await find_backup(*client, cfg, opts, backup)) {
          std::cerr << "pgship-agent: " << error.message << "\n";
          co_return error.code.value();
        }
        std::string note;
        const auto m = co_await find_manifest(cfg, *client, backup, note);
        std::string timescaledb_version;
        if (m && m->timescaledb) timescaledb_version = m->timescaledb->version;
        if (!m) {
          log::write(spdlog::level::warn, "restoring " + backup.id + " without its manifest",
                     {{"why", note}});
        }
        bool must_create = false;
        if (auto error = check_target(cfg, opts, timescaledb_version, must_create)) {
          std::cerr << "pgship-agent: " << error.message << "\n";
          co_return error.code.value();
        }
        stage_error error;
        bool created = false;
        if (must_create) {
          error = create_target(cfg, opts.target_db);
          created = !error;
        }
        if (!error) {
          log::write(spdlog::level::info, "restoring " + backup.id + " into " + opts.target_db,
                     {{"bytes", backup.size}, {"jobs", opts.jobs}});
          fetch_restore_io io{*client, cfg.backup_api_token, cfg.pg_dump_path,
                              cfg.backup_dir / ".restore", child};
          io.identities = cfg.age_identities;
          io.progress = &progress;
          io.progress_label = backup.database;
          restore_target target;
          target.login = {cfg.postgres_host, cfg.postgres_port, cfg.postgres_user,
                          cfg.postgres_password, opts.target_db};
          target.clean = opts.clean;
          target.no_owner = opts.no_owner;
          target.jobs = opts.jobs;
          target.timescaledb_version = timescaledb_version;
          std::vector<stage_record> stages;
          error = co_await fetch_and_restore(io, backup, target, stages);
        }
        watch.stop();
        if (error && created) drop_created_target(cfg, opts.target_db);
        if (error) {
          std::cerr << "pgship-agent: " << error.message << "\n";
          co_return error.code.value();
        }
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::cout << fmt::format("restored {} ({:.1f} MiB, sha256 {}) into {} in {:.1f} s\n",
                                 backup.id, static_cast<double>(backup.size) / 1048576.0,
                                 backup.sha256.substr(0, 16), opts.target_db, secs);
        co_return 0;
      },
      [child] { child->kill(); });
}

}  // namespace pgship::agent
