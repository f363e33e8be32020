#include "drill/pitr_drill.hpp"
#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <random>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unistd.h>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/first_few.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/time_text.hpp>
#include <pgship/common/wal/wal_names.hpp>

#include "blocking_call.hpp"
#include "net/receiver_api.hpp"
#include "net/wal_api.hpp"
#include "pg_connection.hpp"
#include "pg_tools.hpp"
#include "pipeline/pitr_recovery.hpp"
#include "pipeline/pitr_start.hpp"
#include "pipeline/row_counts.hpp"
#include "pipeline/run_skeleton.hpp"
#include "pipeline/wal_fetch.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace stdfs = std::filesystem;

namespace {

// A port nothing listens on now, on loopback. Another process may take it before the server
// does; the drill then fails naming the port, and the next one picks another.
int free_loopback_port(net::any_io_executor ex) {
  boost::system::error_code ec;
  net::ip::tcp::acceptor probe(ex);
  probe.open(net::ip::tcp::v4(), ec);
  if (!ec) probe.bind({net::ip::make_address_v4("127.0.0.1"), 0}, ec);
  if (ec) return 0;
  return probe.local_endpoint(ec).port();
}

// A server a killed drill left running on `dir` is stopped (SIGQUIT: immediate shutdown),
// and only one whose command line names `dir`.
net::awaitable<void> stop_leftover_server(const stdfs::path& dir, const log::context& lg) {
  std::ifstream pid_file(dir / "postmaster.pid");
  long pid = 0;
  if (!(pid_file >> pid) || pid <= 1) co_return;
  // Only a postgres whose -D is this directory: the pid may have been reused since.
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  for (std::string arg; std::getline(cmdline, arg, '\0');)
    args.push_back(arg);
  bool ours = !args.empty() && stdfs::path(args.front()).filename() == "postgres";
  ours = ours && std::adjacent_find(args.begin(), args.end(), [&](const auto& a, const auto& b) {
                   return a == "-D" && b == dir.string();
                 }) != args.end();
  if (!ours) co_return;
  lg.warn("stopping the scratch server (pid {}) an earlier PITR drill left on {}", pid,
          dir.string());
  ::kill(static_cast<pid_t>(pid), SIGQUIT);
  net::steady_timer pause(co_await net::this_coro::executor);
  for (int i = 0; i < 100 && ::kill(static_cast<pid_t>(pid), 0) == 0; ++i) {
    pause.expires_after(std::chrono::milliseconds(100));
    co_await pause.async_wait(net::use_awaitable);
  }
}

// The scratch server's settings: a free loopback port and a socket beside the directory,
// connections from that socket only (trusted: only this user can reach it), no TLS (the
// cluster's certificate files need not be there), and nothing that writes on its own or
// waits for a standby.
std::string drill_server_options(const stdfs::path& side, int port) {
  return "-p " + std::to_string(port) +
         " -c listen_addresses='127.0.0.1' -c unix_socket_directories='" + side.string() +
         "' -c hba_file='" + (side / "pg_hba.conf").string() +
         "' -c ssl=off -c autovacuum=off -c archive_mode=off -c synchronous_standby_names=''"
         " -c timescaledb.max_background_workers=0 -c log_timezone=UTC";
}

// The moment in PostgreSQL's own line on where recovery stopped ("..., time 2026-03-01
// 12:00:00.123456+00"), as unix ms; 0 when it names none.
std::int64_t moment_in(const std::string& said) {
  const auto at = said.rfind("time ");
  if (at == std::string::npos) return 0;
  std::string text = said.substr(at + 5);
  // log_timezone=UTC prints "+00"; RFC 3339 wants "+00:00".
  if (text.size() > 3 && (text[text.size() - 3] == '+' || text[text.size() - 3] == '-'))
    text += ":00";
  const auto parsed = parse_rfc3339(text);
  if (!parsed) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(parsed->time_since_epoch()).count();
}

// latest, random (a moment inside the PITR window, to the millisecond), or what was asked.
net::awaitable<stage_error> choose_target(const settings& cfg, const std::string& system,
                                          const std::string& at, pitr_target& out) {
  std::string text = at.empty() ? "latest" : at;
  if (text == "random") {
    wal_api archive(make_receiver_client(co_await net::this_coro::executor, cfg),
                    cfg.backup_api_token, system);
    wire::wal::archive_state state;
    if (auto e = co_await archive.get_state(state)) co_return e;
    if (!state.pitr) {
      co_return fail(errc::restore_refused, "the archive of system " + system +
                                                " has no PITR window: no complete base backup");
    }
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_int_distribution<std::int64_t> pick(state.pitr->oldest_ms, state.pitr->newest_ms);
    text = format_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(pick(rng))),
                      true);
  }
  std::string why;
  auto parsed = parse_pitr_target(text, why);
  if (!parsed) co_return fail(errc::config_invalid, why);
  out = std::move(*parsed);
  co_return stage_error{};
}

// Further than this short of the archive's end is WAL recovery did not get: a missing or
// unreadable segment (PostgreSQL ends recovery to latest at the first it cannot have).
constexpr pgship::wal::lsn end_tolerance = 64 * 1024;

struct database_check {
  std::size_t indexes = 0;
  std::size_t tables = 0;
  std::uint64_t rows = 0;
  std::vector<std::string> findings;  // what amcheck or a count found wrong
};

// Every valid B-tree index (bt_index_check with heapallindexed: each heap tuple has its index
// entry) and every table, its TOAST and materialised views (verify_heapam), catalogs included.
constexpr std::string_view index_query =
    "SELECT c.oid, c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree' AND c.relkind = 'i' AND"
    " i.indisvalid AND i.indisready AND c.relpersistence <> 't' ORDER BY 2";
constexpr std::string_view heap_query =
    "SELECT c.oid, c.oid::regclass::text FROM pg_class c JOIN pg_am a ON a.oid = c.relam"
    " WHERE a.amname = 'heap' AND c.relkind IN ('r', 'm', 't') AND c.relpersistence <> 't'"
    " ORDER BY 2";

stage_error check_database(const pg_login& login, const std::atomic<bool>& stop,
                           database_check& out) {
  stage_error error;
  auto conn = pg_connection::open(login, error);
  if (error) return error;
  if (auto e = conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")) {
    return fail(errc::drill_refused,
                "amcheck is not available in the recovered " + login.database + " (" + e.message +
                    "): install PostgreSQL's contrib modules where drills run");
  }
  const auto indexes = conn.query_rows(index_query, error);
  if (!indexes) return error;
  for (const auto& row : *indexes) {
    if (stop) return fail(errc::cancelled, "the PITR drill was stopped");
    stage_error found;
    conn.query_rows("SELECT bt_index_check(" + row[0] + "::oid::regclass, true)", found);
    if (found) {
      out.findings.push_back(login.database + ": index " + row[1] + ": " + found.message);
    } else {
      ++out.indexes;
    }
  }
  const auto heaps = conn.query_rows(heap_query, error);
  if (!heaps) return error;
  for (const auto& row : *heaps) {
    if (stop) return fail(errc::cancelled, "the PITR drill was stopped");
    stage_error failed;
    const auto found = conn.query_rows("SELECT blkno, offnum, msg FROM verify_heapam(" + row[0] +
                                           "::oid::regclass, on_error_stop => true) LIMIT 1",
                                       failed);
    if (!found) {
      out.findings.push_back(login.database + ": table " + row[1] + ": " + failed.message);
    } else if (!found->empty()) {
      const auto& f = found->front();
      out.findings.push_back(login.database + ": table " + row[1] + " block " + f[0] + " offset " +
                             f[1] + ": " + f[2]);
    }
  }
  std::vector<table_rows> counted;
  if (auto e = count_user_tables(conn, stop, false, counted)) return e;
  for (const auto& t : counted) {
    ++out.tables;
    out.rows += t.rows;
    if (!t.error.empty()) {
      out.findings.push_back(login.database + ": counting " + t.schema + "." + t.name + ": " +
                             t.error);
    }
  }
  return {};
}

// The cluster's bootstrap superuser (the role with oid 10), asked as POSTGRES_USER once the
// server takes writes (it says "ready" and removes recovery.signal a moment before its
// end-of-recovery checkpoint lets transactions write): amcheck is created and run as it.
stage_error superuser_of(const pg_login& login, const std::atomic<bool>& stop, std::string& out,
                         std::string& replayed) {
  stage_error error;
  auto conn = pg_connection::open(login, error);
  if (error) return error;
  for (int waited = 0;; ++waited) {
    const auto recovering = conn.query_value("SELECT pg_is_in_recovery()", error);
    if (!recovering) return error;
    if (*recovering == "f") break;
    if (stop) return fail(errc::cancelled, "the PITR drill was stopped");
    if (waited > 1200) {
      return fail(errc::restore_failed, "the recovered server stayed read-only for 2 minutes");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto name = conn.query_value("SELECT rolname FROM pg_roles WHERE oid = 10", error);
  if (!name) return error;
  out = *name;
  // Where replay ended: static once recovery is over ("" when PostgreSQL did not say).
  const auto end = conn.query_value("SELECT pg_last_wal_replay_lsn()", error);
  if (!end) return error;
  replayed = *end;
  return {};
}

class cluster_drill {
 public:
  cluster_drill(const settings& cfg, const pitr_drill_request& request, run_control& control,
                database_run& run, const log::context& lg)
      : cfg_(cfg), request_(request), control_(control), run_(run), lg_(lg) {}

  net::awaitable<stage_error> go() {
    auto& outcome = run_.drill.emplace();
    const auto dir = pitr_drill_dir(cfg_);
    outcome.scratch_database = dir.string();
    co_await remove_leftovers(dir);

    std::string system;
    if (auto e = archive_system(cfg_, "", system)) co_return e;
    if (auto e = check_readable_by_wal_fetch(cfg_)) co_return e;
    recovery_request request;
    request.system = system;
    request.dir = dir;
    request.child = control_.child;
    request.progress = &control_.progress;
    request.say = [this](std::string_view text) { lg_.info("PITR drill: {}", text); };
    if (auto e = co_await choose_target(cfg_, system, request_.at, request.target)) co_return e;
    outcome.target = request.target.text;
    request_target_latest_ = request.target.what == pitr_target::kind::latest;
    lg_.info("PITR drill of system {} to {}", system, outcome.target);

    const auto started = std::chrono::steady_clock::now();
    recovery_prepared prepared;
    if (auto e = co_await prepare_recovery(cfg_, request, run_.stages, prepared)) co_return e;
    run_.backup = prepared.backup.id;
    auto error = co_await recover(dir, prepared, outcome);
    outcome.recovery_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!error) error = co_await check(prepared, outcome);

    // Always, whatever failed before.
    stage_clock cleanup(run_.stages, "cleanup");
    co_await stop_server(prepared.tools, dir);
    co_await wait_prefetch_done(prepared.side / "spool", std::chrono::seconds(30));
    undo_recovery(dir, true);
    cleanup.done(0, true);
    co_return error;
  }

 private:
  net::awaitable<void> remove_leftovers(const stdfs::path& dir) {
    std::error_code ec;
    if (!stdfs::exists(dir, ec)) co_return;
    co_await stop_leftover_server(dir, lg_);
    lg_.warn("removing {} left by an earlier PITR drill", dir.string());
    undo_recovery(dir, true);
  }

  net::awaitable<stage_error> recover(const stdfs::path& dir, const recovery_prepared& prepared,
                                      drill_outcome& outcome) {
    stage_clock clock(run_.stages, "recover");
    control_.progress.begin(std::string(basebackup_name), "recover");
    {
      std::ofstream hba(prepared.side / "pg_hba.conf");
      hba << "# the PITR drill's scratch server: its own socket only\nlocal all all trust\n";
    }
    port_ = free_loopback_port(co_await net::this_coro::executor);
    if (port_ == 0) {
      clock.done(0, false);
      co_return fail(errc::local_io_failed, "no free loopback port for the scratch server");
    }
    recovery_outcome recovered;
    auto error = co_await start_recovery(prepared.tools, dir, prepared.side,
                                         drill_server_options(prepared.side, port_), recovered,
                                         control_.child);
    clock.done(0, !error);
    if (error) co_return error;
    outcome.recovered_to = recovered.said;
    outcome.recovered_to_ms = moment_in(recovered.said);
    lg_.info("PITR drill: recovered to {}: {}", outcome.target,
             recovered.said.empty() ? "(no word in the log)" : recovered.said);
    co_return stage_error{};
  }

  // A drill to latest must have replayed the archive's WAL up to where it ended when the drill
  // began: PostgreSQL ends recovery to latest at the first segment it cannot have, and would
  // otherwise pass a drill that recovered half the archive.
  stage_error reached_archive_end(const recovery_prepared& prepared,
                                  const std::string& replayed) const {
    if (!request_target_latest_ || !prepared.archive_end) return {};
    const auto& archive_end = *prepared.archive_end;
    const auto end = pgship::wal::parse_lsn(replayed);
    if (!end) {
      return fail(errc::restore_failed, "the recovered server does not say where replay ended");
    }
    if (*end + end_tolerance >= archive_end.at) return {};
    return fail(errc::wal_gap, "recovery to latest ended at " + pgship::wal::format_lsn(*end) +
                                   ", but the archive holds WAL of timeline " +
                                   std::to_string(archive_end.timeline) + " to " +
                                   pgship::wal::format_lsn(archive_end.at) +
                                   ": a segment after it is missing or could not be fetched");
  }

  net::awaitable<stage_error> check(const recovery_prepared& prepared, drill_outcome& outcome) {
    stage_clock clock(run_.stages, "check");
    control_.progress.begin(std::string(basebackup_name), "check");
    pg_login login{prepared.side.string(), port_, cfg_.postgres_user, "", ""};
    login.database = cfg_.databases.empty() ? "postgres" : cfg_.databases.front();
    std::vector<std::string> notes;
    stage_error error;
    std::string replayed;
    std::function<void()> work = [&] {
      std::string superuser;
      error = superuser_of(login, control_.stop_requested, superuser, replayed);
      if (error) return;
      error = reached_archive_end(prepared, replayed);
      if (error) return;
      login.user = superuser;
      for (const auto& database : cfg_.databases) {
        login.database = database;
        database_check found;
        error = check_database(login, control_.stop_requested, found);
        if (error) return;
        outcome.tables += found.tables;
        outcome.rows += found.rows;
        outcome.indexes_checked += found.indexes;
        for (auto& f : found.findings)
          outcome.mismatches.push_back(std::move(f));
        notes.push_back(database + ": " + std::to_string(found.tables) + " tables, " +
                        std::to_string(found.rows) + " rows, " + std::to_string(found.indexes) +
                        " indexes");
      }
    };
    co_await run_on_own_thread(std::move(work));
    for (const auto& n : notes)
      outcome.note += (outcome.note.empty() ? "" : "; ") + n;
    if (!error && !outcome.mismatches.empty()) {
      error = fail(errc::drill_mismatch, std::to_string(outcome.mismatches.size()) +
                                             " problem(s) in the cluster recovered to " +
                                             outcome.target + ": " + first_few(outcome.mismatches));
    }
    clock.done(outcome.rows, !error);
    if (!error) lg_.info("PITR drill: amcheck and counts clean: {}", outcome.note);
    co_return error;
  }

  const settings& cfg_;
  const pitr_drill_request& request_;
  run_control& control_;
  database_run& run_;
  const log::context& lg_;
  int port_ = 0;
  bool request_target_latest_ = false;
};

}  // namespace

std::string pitr_drill_unable(const settings& cfg) {
  if (::geteuid() == 0) {
    return "PITR drills start PostgreSQL, which refuses to run as root: give BACKUP_DIR to the "
           "user the drills should run as (the agent becomes its owner)";
  }
  const auto candidates = pg_dump_candidates(cfg.pg_dump_path, 0);
  if (candidates.empty()) return "no pg_dump found, and the server binaries sit beside it";
  const auto bin = candidates.front().parent_path();
  std::string missing;
  for (const char* name : {"postgres", "pg_ctl", "pg_verifybackup"}) {
    std::error_code ec;
    if (!stdfs::exists(bin / name, ec))
      missing += (missing.empty() ? "" : ", ") + std::string(name);
  }
  if (missing.empty()) return {};
  return "the PostgreSQL server binaries are missing in " + bin.string() + " (" + missing +
         "): PITR drills start a scratch server (install postgresql-<major> where they run)";
}

stdfs::path pitr_drill_dir(const settings& cfg) {
  return cfg.backup_dir / ".pitr-drill" / "pgdata";
}

net::awaitable<run_record> run_pitr_drill(const settings& cfg, const pitr_drill_request& request,
                                          run_control& control) {
  run_skeleton skeleton(cfg, control, "pitr_drill", request.run_id, request.trigger);
  auto& run = skeleton.record();
  const auto& lg = skeleton.log();
  lg.info("PITR drill started ({}), target {}", run.trigger, request.at);
  run.databases.push_back(database_run{.database = std::string(basebackup_name)});
  if (!cfg.upload) {
    co_return skeleton.finish(
        fail(errc::config_invalid, "a PITR drill recovers from the receiver: it needs UPLOAD=on"));
  }
  if (auto error = skeleton.lock_backup_dir()) co_return skeleton.finish(std::move(error));
  auto& d = run.databases.front();
  cluster_drill drill(cfg, request, control, d, lg);
  auto work = drill.go();
  co_await skeleton.step(d, "PITR drill", std::move(work));
  co_return skeleton.finish();
}

}  // namespace pgship::agent
