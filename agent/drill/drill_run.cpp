#include "drill/drill_run.hpp"
#include <algorithm>

#include <pgship/common/first_few.hpp>
#include <pgship/common/log.hpp>

#include "blocking_call.hpp"
#include "drill/row_compare.hpp"
#include "net/receiver_api.hpp"
#include "pg_connection.hpp"
#include "pipeline/fetch_restore.hpp"
#include "pipeline/manifest_source.hpp"
#include "pipeline/row_counts.hpp"
#include "pipeline/run_skeleton.hpp"
#include "pipeline/timescaledb_restore.hpp"
#include "repository/manifest.hpp"

namespace pgship::agent {
namespace {

namespace net = boost::asio;

pg_login drill_login(const settings& cfg, const std::string& database) {
  const auto& s = cfg.drill_server;
  return {s.host, s.port, s.user, s.password, database};
}

stage_error drop_database(pg_connection& admin, const std::string& name) {
  // FORCE (PostgreSQL 13+) ends what a killed pg_restore left connected.
  const std::string force = admin.server_version_num() >= 130000 ? " WITH (FORCE)" : "";
  if (auto e = admin.execute("DROP DATABASE IF EXISTS " + admin.quote_identifier(name) + force)) {
    return fail(errc::restore_failed,
                "cannot drop the scratch database " + name + ": " + e.message);
  }
  return {};
}

// A database of that name left by an earlier drill (a crash, a second signal) carries the
// marker and goes; any other is refused, never dropped.
stage_error create_scratch(const settings& cfg, const std::string& name,
                           const std::string& timescaledb_version, const log::context& lg,
                           bool& made) {
  stage_error error;
  auto admin = pg_connection::open(drill_login(cfg, "postgres"), error);
  if (error) return error;
  if (!timescaledb_version.empty()) {
    if (auto refused = check_timescaledb_offered(admin, timescaledb_version)) return refused;
  }
  const auto found = admin.query_rows(
      "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
      "WHERE datname = " +
          admin.quote_literal(name),
      error);
  if (!found) return error;
  if (!found->empty()) {
    if (found->front().front() != scratch_marker) {
      return fail(errc::drill_refused,
                  "database " + name +
                      " exists on the drill server and was not made by a pgship drill; drop it "
                      "or set DRILL_DATABASE to another name");
    }
    lg.warn("dropping scratch database {} left by an earlier drill", name);
    if (auto dropped = drop_database(admin, name)) return dropped;
  }
  const auto quoted = admin.quote_identifier(name);
  if (auto e = admin.execute("CREATE DATABASE " + quoted + " TEMPLATE template0")) {
    return fail(errc::restore_failed, "cannot create the scratch database " + name + ": " +
                                          e.message + " (DRILL_POSTGRES_USER needs CREATEDB)");
  }
  made = true;
  if (auto e = admin.execute("COMMENT ON DATABASE " + quoted + " IS " +
                             admin.quote_literal(scratch_marker))) {
    return fail(errc::restore_failed,
                "cannot mark the scratch database " + name + ": " + e.message);
  }
  return {};
}

stage_error drop_scratch(const settings& cfg, const std::string& name) {
  stage_error error;
  auto admin = pg_connection::open(drill_login(cfg, "postgres"), error);
  if (error) return error;
  return drop_database(admin, name);
}

// Why a manifest gives no counts to compare, or "" when it does.
std::string no_counts_reason(const remote_backup& backup, const std::optional<manifest>& m,
                             const std::string& not_found) {
  if (!m) return "no counts to compare: " + not_found;
  if (m->row_counts.empty())
    return "no counts to compare: " + backup.id + " was taken without row counts";
  return {};
}

net::awaitable<stage_error> count_restored(const settings& cfg, const std::string& scratch,
                                           run_control& control, std::vector<table_rows>& out,
                                           database_facts& facts) {
  stage_error error;
  auto conn = pg_connection::open(drill_login(cfg, scratch), error);
  if (error) co_return error;
  control.cancel_query = conn.canceller();
  std::function<void()> work = [&] {
    // A TimescaleDB scratch copy stays in restore mode, so its scheduler starts no job; this
    // session alone reads it as TimescaleDB does (compressed chunks included).
    if (installed_extension(conn, "timescaledb", error)) {
      error = conn.execute("SET timescaledb.restoring = off");
    }
    if (!error) error = read_database_facts(conn, facts);
    if (!error) error = count_user_tables(conn, control.stop_requested, false, out);
  };
  co_await run_on_own_thread(std::move(work));
  control.cancel_query = nullptr;
  if (error && control.stopping()) co_return fail(errc::cancelled, "the drill was stopped");
  co_return error;
}

class database_drill {
 public:
  database_drill(const settings& cfg, const drill_request& request, run_control& control,
                 http_client& client, database_run& run, const log::context& lg)
      : cfg_(cfg), request_(request), control_(control), client_(client), run_(run), lg_(lg) {}

  net::awaitable<stage_error> go() {
    remote_backup backup;
    if (auto error = co_await find_backup(backup)) co_return error;
    run_.database = backup.database;
    run_.backup = backup.id;
    run_.size = backup.size;
    run_.sha256 = backup.sha256;
    auto& outcome = run_.drill.emplace();
    std::string why;
    const auto scratch = drill_database_for(cfg_, backup.database, why);
    if (!scratch) co_return fail(errc::drill_refused, "DRILL_DATABASE refused: " + why);
    outcome.scratch_database = *scratch;
    lg_.info("drill of {}: restoring {} ({} bytes) into {}", backup.database, backup.id,
             backup.size, *scratch);

    std::string not_found;
    const auto expected = co_await find_manifest(cfg_, client_, backup, not_found);
    std::string timescaledb_version;
    if (expected && expected->timescaledb) timescaledb_version = expected->timescaledb->version;

    bool created = false;
    auto error = create_scratch(cfg_, *scratch, timescaledb_version, lg_, created);
    if (!error && control_.stopping()) error = fail(errc::cancelled, "the drill was stopped");
    if (!error) error = co_await restore(backup, *scratch, timescaledb_version, outcome);
    if (!error) error = co_await compare(backup, *scratch, expected, not_found, outcome);
    // Always, whatever failed before, unless DRILL_KEEP; never a database it did not make.
    if (created && cfg_.drill_keep) {
      outcome.kept = true;
      lg_.info("DRILL_KEEP: the scratch database {} stays for inspection", *scratch);
      if (!timescaledb_version.empty()) {
        if (auto released = release_kept_timescaledb_copy(drill_login(cfg_, *scratch))) {
          lg_.warn(
              "{} stays in TimescaleDB's restore mode (SET timescaledb.restoring = off in a "
              "session to read it): {}",
              *scratch, released.message);
        } else {
          lg_.info("{}: TimescaleDB's jobs are unscheduled there, so none runs", *scratch);
        }
      }
    } else if (created) {
      stage_clock drop(run_.stages, "drop");
      auto dropped = drop_scratch(cfg_, *scratch);
      drop.done(0, !dropped);
      if (dropped) lg_.error("{}", dropped.message);
      if (!error) error = std::move(dropped);
    }
    co_return error;
  }

 private:
  net::awaitable<stage_error> find_backup(remote_backup& out) {
    std::vector<remote_backup> backups;
    const std::string only = request_.backup_id.empty() ? run_.database : std::string();
    if (auto error = co_await list_remote_backups(client_, cfg_.backup_api_token, only, backups)) {
      co_return error;
    }
    for (const auto& b : backups) {  // newest first
      // Only a database's dump is drilled: never an archive or the globals of its name.
      if (request_.backup_id.empty() && b.kind != backup_kind::dump) continue;
      if (request_.backup_id.empty() || b.id == request_.backup_id) {
        if (b.kind != backup_kind::dump) {
          co_return fail(errc::drill_refused,
                         b.id + " is not a database's dump: only a database's dump is drilled");
        }
        out = b;
        co_return stage_error{};
      }
    }
    if (!request_.backup_id.empty()) {
      co_return fail(errc::restore_failed, "the receiver has no backup " + request_.backup_id);
    }
    co_return fail(errc::restore_failed, "the receiver has no backup of " + run_.database +
                                             " to drill: nothing has been shipped yet");
  }

  net::awaitable<stage_error> restore(const remote_backup& backup, const std::string& scratch,
                                      const std::string& timescaledb_version,
                                      drill_outcome& outcome) {
    fetch_restore_io io{
        client_,        cfg_.backup_api_token, cfg_.pg_dump_path, cfg_.backup_dir / ".restore",
        control_.child, &control_.progress,    backup.database};
    io.identities = cfg_.age_identities;
    restore_target target;
    target.login = drill_login(cfg_, scratch);
    target.jobs = request_.jobs;
    target.timescaledb_version = timescaledb_version;
    target.timescaledb_post_restore = false;  // no job runs in a scratch copy
    const auto started = std::chrono::steady_clock::now();
    auto error = co_await fetch_and_restore(io, backup, target, run_.stages);
    outcome.recovery_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    co_return error;
  }

  net::awaitable<stage_error> compare(const remote_backup& backup, const std::string& scratch,
                                      const std::optional<manifest>& expected,
                                      const std::string& not_found, drill_outcome& outcome) {
    stage_clock clock(run_.stages, "compare");
    control_.progress.begin(backup.database, "compare");
    std::vector<table_rows> restored;
    database_facts facts;
    auto error = co_await count_restored(cfg_, scratch, control_, restored, facts);
    if (error) {
      clock.done(0, false);
      co_return error;
    }
    outcome.tables = restored.size();
    for (const auto& t : restored)
      outcome.rows += t.rows;
    outcome.note = no_counts_reason(backup, expected, not_found);
    if (!outcome.note.empty()) {
      lg_.warn("drill of {}: {}", backup.database, outcome.note);
      clock.done(outcome.rows, true);
      co_return stage_error{};
    }
    outcome.row_counts = expected->row_counts;
    const bool exact = expected->row_counts == "exact";
    if (!exact) outcome.note = "estimated counts: only the set of tables is compared";
    std::vector<std::string> uncounted;
    for (const auto& t : expected->tables)
      if (!t.error.empty()) uncounted.push_back(t.schema + "." + t.name);
    if (!uncounted.empty()) {
      outcome.note = std::to_string(uncounted.size()) +
                     " table(s) could not be counted when the backup was taken, so their rows "
                     "are not compared: " +
                     first_few(uncounted);
      lg_.warn("drill of {}: {}", backup.database, outcome.note);
    }
    for (const auto& m : compare_rows(expected->tables, restored, exact))
      outcome.mismatches.push_back(describe(m));
    if (expected->timescaledb && facts.timescaledb) {
      for (auto& m : compare_timescaledb(*expected->timescaledb, *facts.timescaledb))
        outcome.mismatches.push_back(std::move(m));
    } else if (expected->timescaledb) {
      outcome.mismatches.push_back("the restored copy has no TimescaleDB");
    }
    clock.done(outcome.rows, outcome.mismatches.empty());
    if (!outcome.mismatches.empty()) {
      co_return fail(errc::drill_mismatch,
                     std::to_string(outcome.mismatches.size()) + " difference(s) between " +
                         backup.id + " and its restored copy: " + first_few(outcome.mismatches));
    }
    lg_.info("drill of {}: {} tables, {} rows, as the backup counted them", backup.database,
             outcome.tables, outcome.rows);
    co_return stage_error{};
  }

  const settings& cfg_;
  const drill_request& request_;
  run_control& control_;
  http_client& client_;
  database_run& run_;
  const log::context& lg_;
};

}  // namespace

net::awaitable<run_record> run_drill(const settings& cfg, const drill_request& request,
                                     run_control& control) {
  run_skeleton skeleton(cfg, control, "drill", request.run_id, request.trigger);
  auto& run = skeleton.record();
  const auto& lg = skeleton.log();
  if (!request.backup_id.empty()) {
    run.databases.push_back(database_run{});
  } else {
    for (const auto& db : request.databases.empty() ? cfg.databases : request.databases)
      run.databases.push_back(database_run{.database = db});
  }
  lg.info("restore drill started ({}): {} database(s)", run.trigger, run.databases.size());

  if (!cfg.upload) {
    co_return skeleton.finish(
        fail(errc::config_invalid,
             "a drill restores the receiver's copy, but UPLOAD=off: there is none"));
  }
  if (auto error = skeleton.lock_backup_dir()) co_return skeleton.finish(std::move(error));
  std::unique_ptr<http_client> client;
  if (auto error = co_await skeleton.open_receiver(client)) {
    co_return skeleton.finish(std::move(error));
  }

  for (auto& d : run.databases) {
    database_drill drill(cfg, request, control, *client, d, lg);
    auto work = drill.go();
    co_await skeleton.step(d, "drill", std::move(work));
  }
  co_return skeleton.finish();
}

}  // namespace pgship::agent
