#pragma once
// TIMESCALEDB_JOBS_DURING_DUMP=pause: TimescaleDB's jobs (compression, retention, continuous
// aggregate refresh) start no run while pg_dump holds its locks, since a job that queues for
// a lock pg_dump holds makes every insert into that chunk queue behind it.
//
// The pause moves each due job's next start a lease ahead (alter_job(next_start)), renewed
// while the dump runs. The next start lives in TimescaleDB's job statistics, which pg_dump
// never dumps, so the pause never shows in a backup whenever it is taken; and a lease nobody
// renews (the agent killed) runs out by itself within pause_lease. Afterwards each job is due
// again when it was due before the pause, or at once if that time has passed.

#include <chrono>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>

#include "pg_connection.hpp"

namespace pgship::agent {

class timescaledb_pause {
 public:
  /// How far ahead a pause moves a job; renewed every third of it.
  static constexpr std::chrono::seconds lease{60};

  /// Pauses the jobs of the database `login` names; nullptr when it has no TimescaleDB (or
  /// none could be paused: logged, and the dump goes on, which matters more).
  static boost::asio::awaitable<std::shared_ptr<timescaledb_pause>> begin(pg_login login,
                                                                          log::context log);
  /// Ends the pause: every job is due again when it was before.
  boost::asio::awaitable<void> end();

  ~timescaledb_pause();
  timescaledb_pause(const timescaledb_pause&) = delete;
  timescaledb_pause& operator=(const timescaledb_pause&) = delete;

  struct state;

 private:
  explicit timescaledb_pause(std::unique_ptr<state> s);
  std::shared_ptr<state> state_;
};

}  // namespace pgship::agent
