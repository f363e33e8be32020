#pragma once
// Row counts that belong to the dump (ROW_COUNTS): `exact` opens a REPEATABLE READ
// transaction, exports its snapshot for `pg_dump --snapshot`, and counts every user table in
// it while pg_dump runs, so each count is the number of rows the archive holds, whatever
// writes happen meanwhile; `estimate` reads pg_class.reltuples (no scan). A restore drill
// compares a restored database with these.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "pg_connection.hpp"
#include "pipeline/manifest.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

enum class row_count_mode { exact, estimate, off };

/// The user tables pg_dump dumps the data of (plain tables and partitions; no catalogs), with
/// pg_class.reltuples, the planner's estimate of their rows.
inline constexpr std::string_view user_tables_sql =
    "SELECT n.nspname, c.relname, c.reltuples FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
    "ORDER BY 1, 2";

/// Holds the exporting transaction from begin() until finish(): pg_dump must have imported
/// the snapshot before it ends, and the counts run in it. Counting runs on its own thread,
/// since libpq blocks. Not thread-safe itself: one owner.
class snapshot_counter {
 public:
  /// Connects, begins the transaction and exports its snapshot.
  static std::unique_ptr<snapshot_counter> begin(const pg_login& login, stage_error& error);
  ~snapshot_counter();
  snapshot_counter(const snapshot_counter&) = delete;
  snapshot_counter& operator=(const snapshot_counter&) = delete;

  /// The id for `pg_dump --snapshot`.
  const std::string& snapshot() const { return snapshot_; }
  /// Starts counting every user table on a thread of its own; finish() is resumed on `ex`.
  void start(const boost::asio::any_io_executor& ex);
  /// Stops a count in progress (the dump failed, or the run was cancelled).
  void cancel();
  /// Waits (without blocking the executor) for the counts and ends the transaction.
  boost::asio::awaitable<stage_error> finish(std::vector<table_rows>& out);

 private:
  explicit snapshot_counter(pg_connection conn);
  void count_all();

  struct done_signal;
  std::unique_ptr<done_signal> done_;
  pg_connection conn_;
  std::function<void()> cancel_;
  std::atomic<bool> stop_{false};
  std::string snapshot_;
  std::thread thread_;
  std::vector<table_rows> rows_;
  stage_error error_;
};

/// count(*) of every user table on `conn`, in user_tables_sql order, until `stop` is set
/// (cancelled). `in_savepoints`: each count in its own savepoint, so a failed count does not
/// abort the transaction it runs in. Blocks: call on a thread of its own.
stage_error count_user_tables(pg_connection& conn, const std::atomic<bool>& stop,
                              bool in_savepoints, std::vector<table_rows>& out);

/// pg_class.reltuples of every user table (-1, never analysed, reads as 0).
stage_error estimate_rows(const pg_login& login, std::vector<table_rows>& out);

}  // namespace pgship::agent
