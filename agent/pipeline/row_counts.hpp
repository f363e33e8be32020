#pragma once
// Row counts that belong to the dump (ROW_COUNTS): `exact` opens a REPEATABLE READ
// transaction, exports its snapshot for `pg_dump --snapshot`, and counts every user table in
// it while pg_dump runs, so each count is the number of rows the archive holds, whatever
// writes happen meanwhile; `estimate` reads pg_class.reltuples (no scan). A restore drill
// compares a restored database with these. What is counted follows DESIGN's count rules for
// TimescaleDB: hypertables at their root, continuous aggregates through their view.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "pg_connection.hpp"
#include "pipeline/database_facts.hpp"
#include "repository/manifest.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

enum class row_count_mode { exact, estimate, off };

/// What the manifest lists and a drill compares: the user's plain tables (and partitions), its
/// hypertables and continuous aggregates. Never catalogs, extensions' own tables, or
/// TimescaleDB's storage (chunks, compressed chunks, materialization tables, the
/// `_timescaledb_*` schemas): a hypertable's rows are counted once, at its root.
struct countable {
  std::string schema;
  std::string name;
  std::string kind;      // table, hypertable, continuous_aggregate
  std::string estimate;  // the planner's (or approximate_row_count()'s) idea of its rows
};

/// The countables of the database `conn` is on; `with_estimates` also asks for their
/// estimated rows (pg_class.reltuples; approximate_row_count() for TimescaleDB's objects).
std::optional<std::vector<countable>> list_countables(pg_connection& conn, bool with_estimates,
                                                      stage_error& error);

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
  /// Waits (without blocking the executor) for the counts and the facts read in the same
  /// snapshot, and ends the transaction.
  boost::asio::awaitable<stage_error> finish(std::vector<table_rows>& out, database_facts& facts);

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
  database_facts facts_;
  stage_error error_;
};

/// count(*) of every countable on `conn`, in schema and name order, until `stop` is set
/// (cancelled). A count that fails is recorded with its reason and the others go on.
/// `in_savepoints`: each count in its own savepoint, so a failed count does not abort the
/// transaction it runs in. Blocks: call on a thread of its own.
stage_error count_user_tables(pg_connection& conn, const std::atomic<bool>& stop,
                              bool in_savepoints, std::vector<table_rows>& out);

/// The estimated rows of every countable (-1, never analysed, reads as 0).
stage_error estimate_rows(pg_connection& conn, std::vector<table_rows>& out);

}  // namespace pgship::agent
