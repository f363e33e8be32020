// `pgship-agent check`: the old test-backup.sh as a checklist. Every item runs even when an
// earlier one fails, so one run shows everything that needs fixing.

#include <iostream>

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <pgship/common/fs.hpp>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "net/receiver_api.hpp"
#include "pg_connection.hpp"
#include "pg_tools.hpp"
#include "pipeline/database_facts.hpp"
#include "pipeline/globals.hpp"
#include "pipeline/timescaledb_restore.hpp"
#include "repository/backup_dir.hpp"
#include "repository/local_room.hpp"
#include "wal/replication_check.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

class checklist {
 public:
  void pass(std::string_view item, std::string_view detail) {
    std::cout << "\u2713 " << item << (detail.empty() ? "" : ": ") << detail << "\n";
  }
  void fail_item(std::string_view item, std::string_view reason) {
    std::cout << "\u2717 " << item << ": " << reason << "\n";
    ++failures_;
  }
  void record(std::string_view item, const stage_error& error, std::string_view detail) {
    if (error) {
      fail_item(item, error.message);
    } else {
      pass(item, detail);
    }
  }
  void note(std::string_view item, std::string_view detail) {
    std::cout << "- " << item << ": " << detail << "\n";
  }
  // Works today, but an operator should change it: not a failure.
  void warn(std::string_view item, std::string_view detail) {
    std::cout << "\u26a0 " << item << ": " << detail << "\n";
  }
  int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items)
    out += (out.empty() ? "" : ",") + item;
  return out.empty() ? "none" : out;
}

// What a run needs of the receiver, judged by the token's own scopes: an upload-only token
// (what the README recommends for agents) passes; only what would fail a run fails here.
net::awaitable<void> check_receiver(const settings& cfg, http_client& client, checklist& list) {
  wire::whoami_reply who;
  const auto asked = co_await ask_whoami(client, cfg.backup_api_token, who);
  if (asked) {
    list.fail_item(asked.code == make_error_code(errc::receiver_auth_failed)
                       ? "receiver accepts BACKUP_API_TOKEN for uploads"
                       : "receiver " + client.endpoint().origin(),
                   asked.message);
    co_return;
  }
  if (who.client.empty()) {
    // A receiver from before whoami answered /health instead.
    list.record("receiver " + client.endpoint().origin(),
                who.can_upload ? stage_error{} : fail(errc::receiver_unhealthy, who.reason),
                "healthy (it does not say which scopes the token has)");
    co_return;
  }
  const auto scopes = joined(who.scopes);
  if (!who.has_scope("upload")) {
    list.fail_item("receiver accepts BACKUP_API_TOKEN for uploads",
                   "client " + who.client + " has scopes " + scopes + ", not upload");
  } else {
    list.pass("receiver accepts BACKUP_API_TOKEN for uploads",
              "client " + who.client + ", scopes " + scopes);
  }
  if (who.can_upload) {
    list.pass("receiver takes uploads of client " + who.client,
              who.free_bytes ? fmt::format("{} bytes free", *who.free_bytes) : std::string("yes"));
  } else if (who.has_scope("upload")) {
    list.fail_item("receiver takes uploads of client " + who.client, who.reason);
  }
  if (!who.has_scope("read")) {
    const std::string why = "the token has no read scope: drills and restores need one";
    if (cfg.drill_schedule.empty()) {
      list.note("listing and downloading backups", why);
    } else {
      list.fail_item("DRILL_SCHEDULE can download backups", why);
    }
    co_return;
  }
  std::vector<remote_backup> backups;
  const auto listed = co_await list_remote_backups(client, cfg.backup_api_token, "", backups);
  list.record("receiver lists this client's backups", listed,
              fmt::format("{} backup(s) visible", backups.size()));
}

// What a run really does there: create, lock and remove in .partial/ (as this user: files
// another user left, root's after a run by hand, show up here, not in the next run).
stage_error check_backup_dir(const settings& cfg, std::string& detail) {
  if (auto error = prepare_backup_dir(cfg.backup_dir)) return error;
  run_lock lock;
  auto error = lock.acquire(cfg.backup_dir);
  detail = cfg.backup_dir.string();
  if (error.code == make_error_code(errc::run_in_progress)) {
    detail += " (a backup run is active now)";
    return {};
  }
  return error;
}

// A TimescaleDB database: its version, whether this role can pause its jobs during a dump,
// and whether the drill server could restore it (that version offered and preloaded).
void check_timescaledb(const settings& cfg, const std::string& db, pg_connection& conn,
                       checklist& list) {
  stage_error error;
  const auto version = installed_extension(conn, "timescaledb", error);
  if (error) {
    list.record("TimescaleDB in " + db, error, "");
    return;
  }
  if (!version) return;
  list.pass("TimescaleDB in " + db, *version);
  if (cfg.timescaledb_jobs_during_dump == "pause") {
    const auto foreign = conn.query_value(
        "SELECT count(*) FROM timescaledb_information.jobs "
        "WHERE NOT pg_has_role(current_user, owner::name, 'MEMBER')",
        error);
    if (!error && foreign != "0") {
      error = fail(errc::check_failed,
                   *foreign + " job(s) belong to roles " + cfg.postgres_user +
                       " is not a member of, so they cannot be paused during the dump "
                       "(TIMESCALEDB_JOBS_DURING_DUMP=pause; or set it to run)");
    }
    list.record("TimescaleDB jobs of " + db + " can be paused during the dump", error,
                "TIMESCALEDB_JOBS_DURING_DUMP=pause");
  }
  const auto& d = cfg.drill_server;
  auto admin = pg_connection::open({d.host, d.port, d.user, d.password, "postgres"}, error);
  if (!error) error = check_timescaledb_offered(admin, *version);
  list.record("drill server " + d.host + ":" + std::to_string(d.port) + " restores TimescaleDB " +
                  *version + " (" + db + ")",
              error, "offered and preloaded");
}

}  // namespace

int command_check(const settings& cfg) {
  return run_command([&]() -> net::awaitable<int> {
    checklist list;
    std::string dir_detail;
    const auto dir_error = check_backup_dir(cfg, dir_detail);
    list.record("BACKUP_DIR usable (create, lock, remove in .partial/)", dir_error, dir_detail);
    if (!dir_error) {
      // What a run refuses before dumping: the same judgement, per database.
      for (const auto& db : cfg.databases) {
        const auto room =
            check_local_room(cfg.backup_dir, db, backup_kind::dump, cfg.backup_dir_min_free);
        list.record("BACKUP_DIR has room for a backup of " + db, room,
                    fmt::format("above BACKUP_DIR_MIN_FREE ({} bytes)", cfg.backup_dir_min_free));
      }
    }

    int newest_server_major = 0;
    for (const auto& db : cfg.databases) {
      stage_error error;
      auto conn = pg_connection::open(
          {cfg.postgres_host, cfg.postgres_port, cfg.postgres_user, cfg.postgres_password, db},
          error);
      std::string detail;
      if (!error) {
        const int v = conn.server_version_num();
        newest_server_major = std::max(newest_server_major, major_version(v));
        const auto size =
            conn.query_value("SELECT pg_size_pretty(pg_database_size(current_database()))", error);
        detail = fmt::format("{}@{}:{}, PostgreSQL {}, {}", cfg.postgres_user, cfg.postgres_host,
                             cfg.postgres_port, version_text(v), size.value_or("?"));
      }
      list.record("PostgreSQL database " + db, error, detail);
      if (!error) check_timescaledb(cfg, db, conn, list);
    }

    pg_toolset tools;
    const auto chosen = co_await choose_tools(cfg.pg_dump_path, newest_server_major, tools);
    const std::string tool_detail =
        chosen ? std::string()
               : fmt::format("pg_dump {} ({}), pg_restore {} ({})", tools.dump.version,
                             tools.dump.path.string(), tools.restore.version,
                             tools.restore.path.string());
    list.record(newest_server_major > 0
                    ? "pg_dump and pg_restore for PostgreSQL " + std::to_string(newest_server_major)
                    : std::string("pg_dump and pg_restore"),
                chosen, tool_detail);
    if (cfg.globals && !chosen) {
      // GLOBALS: pg_dumpall beside that pg_dump.
      pg_tool dumpall;
      const auto found = co_await find_pg_dumpall(tools.dump, dumpall);
      list.record("pg_dumpall for GLOBALS", found,
                  found
                      ? std::string()
                      : fmt::format("pg_dumpall {} ({})", dumpall.version, dumpall.path.string()));
    }

    if (cfg.wal_stream) {
      using level = wal::check_finding::level;
      for (const auto& finding : wal::check_replication(cfg)) {
        switch (finding.verdict) {
          case level::pass:
            list.pass(finding.item, finding.detail);
            break;
          case level::fail:
            list.fail_item(finding.item, finding.detail);
            break;
          case level::warn:
            list.warn(finding.item, finding.detail);
            break;
          case level::note:
            list.note(finding.item, finding.detail);
            break;
        }
      }
    }

    if (!cfg.upload) {
      list.pass("receiver", "not used (UPLOAD=off)");
    } else {
      auto client = make_receiver_client(co_await net::this_coro::executor, cfg);
      co_await check_receiver(cfg, *client, list);
    }

    if (list.failures() > 0) {
      std::cout << list.failures() << " check(s) failed\n";
      co_return static_cast<int>(errc::check_failed);
    }
    std::cout << "all checks passed\n";
    co_return 0;
  });
}

}  // namespace pgship::agent
