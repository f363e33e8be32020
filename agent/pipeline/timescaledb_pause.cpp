#include "pipeline/timescaledb_pause.hpp"
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "blocking_call.hpp"

namespace pgship::agent {

namespace net = boost::asio;

struct timescaledb_pause::state {
  struct job {
    std::string id;
    std::string due;  // next_start before the pause ('' when it never had one)
  };
  state(pg_connection c, log::context l) : conn(std::move(c)), log(std::move(l)) {}
  pg_connection conn;
  log::context log;
  std::string api;  // the extension's schema, quoted, with a dot
  std::vector<job> jobs;
  std::unique_ptr<net::steady_timer> timer;
  // The renewal's thread and end() share the connection; a renewal after end() is a no-op.
  std::mutex mu;
  std::atomic<bool> ended{false};
  bool end_called = false;

  std::string due_sql(const job& j) const {
    return j.due.empty() ? std::string("NULL") : conn.quote_literal(j.due) + "::timestamptz";
  }

  // Moves every paused job's next start to the end of a fresh lease (never earlier than it
  // was due anyway). A job that is running holds its row: lock_timeout skips it this round.
  int push_back_all() {
    const std::lock_guard lock(mu);
    if (ended) return 0;
    int moved = 0;
    for (const auto& j : jobs) {
      const auto sql = "SELECT " + api + "alter_job(" + j.id + ", next_start => greatest(" +
                       due_sql(j) + ", now() + interval '" + std::to_string(lease.count()) +
                       " seconds'))";
      stage_error error;
      if (conn.query_value(sql, error)) {
        ++moved;
      } else {
        log.warn("cannot pause TimescaleDB job {}: {}", j.id, error.message);
      }
    }
    return moved;
  }

  void restore_all() {
    const std::lock_guard lock(mu);
    ended = true;
    for (const auto& j : jobs) {
      const auto sql = "SELECT " + api + "alter_job(" + j.id + ", next_start => greatest(" +
                       due_sql(j) + ", now()))";
      stage_error error;
      if (!conn.query_value(sql, error)) {
        log.warn("cannot resume TimescaleDB job {} (its pause runs out by itself within {} s): {}",
                 j.id, lease.count(), error.message);
      }
    }
  }
};

timescaledb_pause::timescaledb_pause(std::unique_ptr<state> s) : state_(std::move(s)) {}

timescaledb_pause::~timescaledb_pause() = default;

namespace {

// Blocking: connects and pauses. nullptr when there is nothing to pause.
std::unique_ptr<timescaledb_pause::state> pause_now(const pg_login& login,
                                                    const log::context& log) {
  stage_error error;
  auto conn = pg_connection::open(login, error);
  if (error) {
    log.warn("cannot pause TimescaleDB's jobs: {}", error.message);
    return nullptr;
  }
  auto s = std::make_unique<timescaledb_pause::state>(std::move(conn), log);
  const auto schema = s->conn.query_rows(
      "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
      "WHERE e.extname = 'timescaledb'",
      error);
  if (!schema || schema->empty()) return nullptr;
  s->api = s->conn.quote_identifier(schema->front().front()) + ".";
  // A job's row is locked while it runs: wait briefly, never as long as the job.
  s->conn.execute("SET lock_timeout = '200ms'");
  const auto jobs = s->conn.query_rows(
      "SELECT job_id::text, coalesce(next_start::text, '') FROM timescaledb_information.jobs "
      "WHERE scheduled AND (next_start IS NULL OR next_start < now() + interval '1 day') "
      "ORDER BY job_id",
      error);
  if (!jobs) {
    log.warn("cannot pause TimescaleDB's jobs: {}", error.message);
    return nullptr;
  }
  for (const auto& j : *jobs)
    s->jobs.push_back({j[0], j[1]});
  if (s->jobs.empty()) return nullptr;
  const int moved = s->push_back_all();
  log.info(
      "TimescaleDB: {} of {} job(s) paused while pg_dump runs (a {} s lease, renewed until "
      "the dump ends)",
      moved, s->jobs.size(), timescaledb_pause::lease.count());
  return s;
}

// Holds the pause only weakly: dropped without end() (the run failed), it runs out by itself.
net::awaitable<void> renew(std::weak_ptr<timescaledb_pause::state> weak) {
  for (;;) {
    boost::system::error_code ec;
    {
      const auto s = weak.lock();
      if (!s || s->ended) co_return;
      s->timer->expires_after(timescaledb_pause::lease / 3);
    }
    // The timer is the state's: destroyed, it completes this wait with an error.
    auto* timer = weak.lock()->timer.get();
    co_await timer->async_wait(net::redirect_error(net::use_awaitable, ec));
    const auto s = weak.lock();
    if (ec || !s || s->ended) co_return;
    std::function<void()> work = [s] { s->push_back_all(); };
    co_await run_on_own_thread(std::move(work));
  }
}

}  // namespace

net::awaitable<std::shared_ptr<timescaledb_pause>> timescaledb_pause::begin(pg_login login,
                                                                            log::context log) {
  std::unique_ptr<state> s;
  std::function<void()> work = [&] { s = pause_now(login, log); };
  co_await run_on_own_thread(std::move(work));
  if (!s) co_return nullptr;
  const auto executor = co_await net::this_coro::executor;
  s->timer = std::make_unique<net::steady_timer>(executor);
  std::shared_ptr<timescaledb_pause> pause(new timescaledb_pause(std::move(s)));
  net::co_spawn(executor, renew(pause->state_), [log](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log.error("renewing the TimescaleDB job pause stopped: {}", ex.what());
    }
  });
  co_return pause;
}

net::awaitable<void> timescaledb_pause::end() {
  const auto keep = state_;
  auto& s = *keep;
  if (s.end_called) co_return;
  s.end_called = true;
  s.timer->cancel();
  std::function<void()> work = [&s] { s.restore_all(); };
  co_await run_on_own_thread(std::move(work));
  s.log.info("TimescaleDB: {} job(s) resumed", s.jobs.size());
}

}  // namespace pgship::agent
