// `pgship-agent restore`: fetch a backup from the receiver, prove it is the one the receiver
// vouches for (SHA-256 computed while downloading), then pg_restore it into a target database
// in one transaction, never over a non-empty database unless asked to (--clean).

#include <cerrno>
#include <cstring>
#include <iostream>

#include <boost/asio/this_coro.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <pgship/common/fs.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/sha256.hpp>

#include "child_process.hpp"
#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "net/receiver_api.hpp"
#include "pg_connection.hpp"
#include "pg_tools.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace http = boost::beast::http;
namespace stdfs = std::filesystem;

namespace {

net::awaitable<stage_error> find_backup(http_client& client, const settings& cfg,
                                        const restore_options& opts, remote_backup& out) {
  std::vector<remote_backup> backups;
  const auto database = opts.latest ? opts.database : std::string();
  if (auto error = co_await list_remote_backups(client, cfg.backup_api_token, database, backups)) {
    co_return error;
  }
  for (const auto& b : backups) {
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

net::awaitable<stage_error> download(http_client& client, const settings& cfg,
                                     const remote_backup& backup, const stdfs::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    co_return fail(errc::local_io_failed,
                   "cannot create " + file.string() + ": " + std::strerror(errno));
  }
  sha256 hash;
  body_sink sink = [&](std::span<const char> data) -> std::error_code {
    for (std::size_t done = 0; done < data.size();) {
      const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return {errno, std::generic_category()};
      }
      done += static_cast<std::size_t>(n);
    }
    hash.update(data.data(), data.size());
    return {};
  };
  http_request r{http::verb::get, client.endpoint().target("/api/backup/download/" + backup.id),
                 11};
  r.set(http::field::authorization, "Bearer " + cfg.backup_api_token);
  const auto reply = co_await client.download(std::move(r), std::move(sink));
  ::close(fd);
  if (!reply.ok()) co_return fail(reply.failure, "downloading " + backup.id + ": " + reply.message);
  if (reply.status() != 200) {
    co_return fail(reply.status() == 401 || reply.status() == 403 ? errc::receiver_auth_failed
                                                                  : errc::restore_failed,
                   "downloading " + backup.id + ": " + describe_response(reply.response));
  }
  const auto digest = to_hex(hash.finish());
  if (digest != backup.sha256) {
    co_return fail(errc::hash_mismatch, "the download of " + backup.id + " has sha256 " + digest +
                                            ", the receiver's record says " + backup.sha256);
  }
  co_return stage_error{};
}

pg_connection open_admin(const settings& cfg, stage_error& error) {
  return pg_connection::open(
      {cfg.postgres_host, cfg.postgres_port, cfg.postgres_user, cfg.postgres_password, "postgres"},
      error);
}

// The target must exist (or --create it) and be empty unless --clean. Checked before the
// download; a missing target is created only once the download checked out (`must_create`),
// so a bad backup leaves no empty database behind.
stage_error check_target(const settings& cfg, const restore_options& opts, bool& must_create) {
  stage_error error;
  auto admin = open_admin(cfg, error);
  if (error) return error;
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
      "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'",
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

net::awaitable<stage_error> pg_restore_into(const settings& cfg, const restore_options& opts,
                                            const stdfs::path& file,
                                            std::shared_ptr<child_handle> child) {
  pg_toolset tools;
  {
    stage_error error;
    auto conn = pg_connection::open({cfg.postgres_host, cfg.postgres_port, cfg.postgres_user,
                                     cfg.postgres_password, opts.target_db},
                                    error);
    if (error) co_return error;
    const int major = major_version(conn.server_version_num());
    if (auto chosen = co_await choose_tools(cfg.pg_dump_path, major, tools)) co_return chosen;
  }
  child_spec spec;
  spec.program = tools.restore.path;
  spec.args = {"--no-password",
               "--host=" + cfg.postgres_host,
               "--port=" + std::to_string(cfg.postgres_port),
               "--username=" + cfg.postgres_user,
               "--dbname=" + opts.target_db,
               "--exit-on-error"};
  if (opts.jobs > 1) {
    spec.args.push_back("--jobs=" + std::to_string(opts.jobs));
  } else {
    spec.args.push_back("--single-transaction");
  }
  if (opts.clean) {
    spec.args.push_back("--clean");
    spec.args.push_back("--if-exists");
  }
  if (opts.no_owner) spec.args.push_back("--no-owner");
  spec.args.push_back(file.string());
  spec.env = {{"PGAPPNAME", "pgship-agent"}};
  if (!cfg.postgres_password.empty()) spec.env["PGPASSWORD"] = cfg.postgres_password;
  const auto result = co_await run_child(spec, nullptr, child);
  if (result.stopped) {
    co_return fail(errc::cancelled, opts.jobs > 1
                                        ? "pg_restore stopped (--jobs: what it had restored stays)"
                                        : "pg_restore stopped (--single-transaction: nothing of "
                                          "it was committed)");
  }
  if (!result.ok()) {
    const auto why = result.last_error_line();
    co_return fail(errc::restore_failed, "pg_restore failed (" + result.describe() + ")" +
                                             (why.empty() ? "" : ": " + why));
  }
  co_return stage_error{};
}

}  // namespace

int command_restore(const settings& cfg, const restore_options& opts) {
  if (!cfg.upload) {
    std::cerr << "pgship-agent: restore needs a receiver, but UPLOAD=off\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (opts.latest == !opts.id.empty() || opts.target_db.empty()) {
    std::cerr << "pgship-agent: restore needs --id ID or --latest, and --target-db NAME\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (!opts.id.empty() && !fs::is_safe_name(opts.id)) {
    std::cerr << "pgship-agent: --id must be a backup name ([A-Za-z0-9._-]+)\n";
    return static_cast<int>(errc::config_invalid);
  }
  // pg_restore would read a --dbname with '=' or a URI prefix as a connection string, and
  // then restore somewhere else than the database checked for emptiness.
  if (opts.jobs < 1 || opts.jobs > 64) {
    std::cerr << "pgship-agent: --jobs must be from 1 to 64\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (!fs::is_safe_name(opts.target_db)) {
    std::cerr << "pgship-agent: --target-db must be a database name ([A-Za-z0-9._-]+)\n";
    return static_cast<int>(errc::config_invalid);
  }
  const auto child = std::make_shared<child_handle>();
  return run_command(
      [&]() -> net::awaitable<int> {
        const auto started = std::chrono::steady_clock::now();
        auto client = make_receiver_client(co_await net::this_coro::executor, cfg);
        remote_backup backup;
        if (auto error = co_await find_backup(*client, cfg, opts, backup)) {
          std::cerr << "pgship-agent: " << error.message << "\n";
          co_return error.code.value();
        }
        bool must_create = false;
        if (auto error = check_target(cfg, opts, must_create)) {
          std::cerr << "pgship-agent: " << error.message << "\n";
          co_return error.code.value();
        }
        const auto dir = cfg.backup_dir / ".restore";
        std::error_code ec;
        stdfs::create_directories(dir, ec);
        const auto file = dir / backup.id;
        log::write(spdlog::level::info, "downloading " + backup.id, {{"bytes", backup.size}});
        auto error = co_await download(*client, cfg, backup, file);
        bool created = false;
        if (!error && must_create) {
          error = create_target(cfg, opts.target_db);
          created = !error;
        }
        if (!error) {
          log::write(spdlog::level::info, "sha256 verified; restoring into " + opts.target_db, {});
          error = co_await pg_restore_into(cfg, opts, file, child);
        }
        if (error && created) drop_created_target(cfg, opts.target_db);
        stdfs::remove(file, ec);
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
