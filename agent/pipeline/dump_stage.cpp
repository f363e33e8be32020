#include "pipeline/dump_stage.hpp"
#include <chrono>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "pg_connection.hpp"
#include "pipeline/database_facts.hpp"
#include "pipeline/dump.hpp"
#include "pipeline/row_counts.hpp"
#include "pipeline/timescaledb_pause.hpp"
#include "pipeline/verify.hpp"
#include "repository/commit.hpp"
#include "repository/manifest_builder.hpp"

namespace pgship::agent {
namespace {

namespace net = boost::asio;
namespace stdfs = std::filesystem;
using sys_clock = std::chrono::system_clock;
using pause_ptr = std::shared_ptr<timescaledb_pause>;

// pg_dump's locks go when it exits: TimescaleDB's jobs may start again from then on.
net::awaitable<stage_error> dump_then_resume_jobs(const pause_ptr& pause, const dump_request& dr,
                                                  dump_output& dumped) {
  auto error = co_await run_dump(dr, dumped);
  if (pause) co_await pause->end();
  co_return error;
}

// The dump, and the upload following it when there is one.
net::awaitable<stage_error> dump_with_follower(backup_context& ctx, const pause_ptr& pause,
                                               const dump_request& dr, dump_output& dumped) {
  if (!ctx.follower) co_return co_await dump_then_resume_jobs(pause, dr, dumped);
  auto* follower = ctx.follower.get();
  auto dump_task = [&]() -> net::awaitable<stage_error> {
    auto error = co_await dump_then_resume_jobs(pause, dr, dumped);
    follower->dump_ended();
    co_return error;
  };
  auto follow_task = [follower]() -> net::awaitable<void> { co_await follower->follow(); };
  const auto executor = co_await net::this_coro::executor;
  auto dump_op = net::co_spawn(executor, dump_task(), net::deferred);
  auto follow_op = net::co_spawn(executor, follow_task(), net::deferred);
  auto [order, e1, error, e2] =
      co_await net::experimental::make_parallel_group(std::move(dump_op), std::move(follow_op))
          .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
  (void)order;
  if (e1) std::rethrow_exception(e1);
  if (e2) std::rethrow_exception(e2);
  co_return error;
}

// Estimated counts (ROW_COUNTS=estimate) and the extensions, read after the dump when no
// snapshot of it was held open.
void describe_without_snapshot(backup_context& ctx, const pg_login& login, manifest& m) {
  stage_error error;
  auto conn = pg_connection::open(login, error);
  database_facts facts;
  if (!error) error = read_database_facts(conn, facts);
  if (error) {
    ctx.log.warn("the manifest lacks the database's extensions: {}", error.message);
  } else {
    m.extensions = std::move(facts.extensions);
    m.timescaledb = std::move(facts.timescaledb);
  }
  if (ctx.cfg.row_counts != "estimate" || error) return;
  if (const auto est_error = estimate_rows(conn, m.tables)) {
    ctx.log.warn("no row estimates in the manifest: {}", est_error.message);
  } else {
    m.row_counts = "estimate";
  }
}

}  // namespace

// Dump (with the upload following it), verify, and commit locally.
net::awaitable<stage_error> dump_verify_commit(backup_context& ctx, const preflight_output& pre,
                                               const stdfs::path& partial, manifest& m) {
  pause_ptr pause;  // TimescaleDB jobs held off while pg_dump runs
  dump_output dumped;
  {
    // The database's size: an estimate of what pg_dump writes (no index data, compressed).
    auto clock = ctx.start_stage("dump", ctx.run.database_size);
    const pg_login login{ctx.cfg.postgres_host, ctx.cfg.postgres_port, ctx.cfg.postgres_user,
                         ctx.cfg.postgres_password, ctx.run.database};
    dump_request dr{login,
                    pre.tools.dump,
                    m.compress_level,
                    partial,
                    ctx.control.child,
                    ctx.log,
                    &ctx.control.progress.bytes};
    dr.format = stored_format_of(ctx.cfg);
    dr.codec = codec_settings_of(ctx.cfg);
    if (ctx.follower) dr.on_stored = [f = ctx.follower.get()](std::uint64_t n) { f->grew(n); };
    dr.list_with = pre.tools.restore;
    if (ctx.cfg.timescaledb_jobs_during_dump == "pause") {
      pause = co_await timescaledb_pause::begin(login, ctx.log);
    }
    // Exact counts come from the snapshot pg_dump dumps, counted while it runs.
    std::unique_ptr<snapshot_counter> counter;
    if (ctx.cfg.row_counts == "exact") {
      stage_error snap_error;
      counter = snapshot_counter::begin(login, snap_error);
      if (snap_error) {
        // The backup matters more than its counts: dump as before, say what is missing.
        ctx.log.warn("no row counts in the manifest: {}", snap_error.message);
      } else {
        dr.snapshot = counter->snapshot();
        const auto executor = co_await net::this_coro::executor;
        counter->start(executor);
      }
    }
    auto error = co_await dump_with_follower(ctx, pause, dr, dumped);
    if (counter) {
      if (error) counter->cancel();
      std::vector<table_rows> counted;
      database_facts facts;
      const auto count_error = co_await counter->finish(counted, facts);
      if (!error && count_error) {
        // The backup stands; only the counts a drill would compare with are missing.
        ctx.log.warn("no row counts in the manifest: {}", count_error.message);
      } else if (!error) {
        m.row_counts = "exact";
        m.tables = std::move(counted);
        m.extensions = std::move(facts.extensions);
        m.timescaledb = std::move(facts.timescaledb);
        for (const auto& t : m.tables) {
          if (!t.error.empty()) ctx.log.warn("cannot count {}.{}: {}", t.schema, t.name, t.error);
        }
      }
    }
    if (!error && m.extensions.empty()) describe_without_snapshot(ctx, login, m);
    clock.done(dumped.bytes, !error);
    if (error) co_return error;
  }
  ctx.run.size = dumped.bytes;
  ctx.run.sha256 = to_hex(dumped.digest);
  ctx.log.info("dumped {} bytes, sha256 {}", dumped.bytes, ctx.run.sha256);
  if (ctx.request.hooks.after_dump) ctx.request.hooks.after_dump(partial);

  {
    auto clock = ctx.start_stage("verify");
    verify_output verified;
    verify_expect expect;
    expect.format = stored_format_of(ctx.cfg);
    expect.stored = dumped.digest;
    expect.plain = *dumped.plain_digest;
    stage_error error;
    // Listed from the tee while dumping, and hashed as written: nothing is read again
    // (the receiver checks the same sha256 before it commits). Only a tee that could not
    // keep up falls back to reading the file back, which an encrypted file does not allow.
    if (dumped.listed) {
      verified.toc_entries = dumped.toc_entries;
    } else if (!dumped.list_gave_up) {
      error = fail(errc::restore_list_failed, dumped.list_problem);
    } else if (expect.format.encrypted()) {
      error = fail(errc::restore_list_failed,
                   dumped.list_problem +
                       ", and the agent holds no identity to read the encrypted file back");
    } else {
      error = co_await run_verify(partial, expect, pre.tools.restore, verified);
    }
    clock.done(verified.bytes_read, !error);
    if (error) {
      std::error_code ignored;
      stdfs::remove(partial, ignored);
      co_return error;
    }
    if (dumped.listed) {
      ctx.log.info("verified while dumping: pg_restore lists {} entries", verified.toc_entries);
    } else {
      ctx.log.info("verified: sha256 read back matches, pg_restore lists {} entries",
                   verified.toc_entries);
    }
  }

  record_stored(m, stored_bytes_of(stored_format_of(ctx.cfg), codec_settings_of(ctx.cfg), dumped),
                sys_clock::now());
  // Should the agent die before the upload that followed the dump ends, the next run goes
  // on with that upload from where the receiver stands.
  if (ctx.follower && !ctx.follower->failed()) m.upload.resume_at = ctx.follower->location();
  co_return commit_local_backup(ctx.cfg.backup_dir, partial, m, ctx.log);
}

}  // namespace pgship::agent
