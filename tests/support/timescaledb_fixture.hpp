#pragma once
// A GoogleTest fixture for pgship on TimescaleDB: the test binary's TimescaleDB cluster (see
// timescaledb.hpp), a receiver per test, the agent as a process or a daemon with settings
// for that cluster, and what the tests compare: manifests, counts, compressed chunks, jobs.
// Every test skips (outside CI) or fails (under CI) on a machine without TimescaleDB.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "daemon_fixture.hpp"
#include "timescaledb.hpp"

namespace pgship::test {

class timescaledb_fixture : public daemon_fixture {
 protected:
  void SetUp() override;
  void TearDown() override;

  static pg_cluster& ts() { return timescaledb_cluster(); }
  pg_cluster& database_server() override { return ts(); }
  /// Creates the platform-shaped database `name` once per test binary (call from
  /// SetUpTestSuite; does nothing without TimescaleDB: SetUp skips every test then).
  static void create_fixture_database(const std::string& name,
                                      const timescaledb_fixture_options& options = {});

  /// The agent's settings for `databases` of `server` (default: the TimescaleDB cluster),
  /// against the running receiver, with `overrides` on top.
  std::map<std::string, std::string> ts_config(
      const std::string& databases, const std::map<std::string, std::string>& overrides = {},
      pg_cluster* server = nullptr);
  /// `pgship-agent backup` with `config` (written as `file`); expects exit 0 and returns the
  /// name of the backup file it wrote to config's BACKUP_DIR. Each backup gets a second of its
  /// own (names have seconds), as scheduled backups do.
  std::string backup(const std::map<std::string, std::string>& config,
                     const std::string& file = "backup.env");

  /// The newest backup file of `database` in `dir` (any of .dump, .dump.zst, .dump.age,
  /// .dump.zst.age), "" when none.
  static std::string newest_backup(const std::filesystem::path& dir, const std::string& database);
  /// The manifest `<stem>.json` beside backup `name` in `dir`.
  static boost::json::object manifest_of(const std::filesystem::path& dir, const std::string& name);
  /// The manifest the receiver serves for backup `name` (GET …/download/{id}.manifest), as
  /// bytes; "" with a failure when it does not answer 200.
  std::string receiver_manifest(const std::string& name);

  /// An age identity file in the test's directory and its recipient.
  std::pair<std::filesystem::path, std::string> new_age_identity(const std::string& name);

  /// What a restored copy must have of its source: every relation's count, the compressed
  /// chunks, the jobs as scheduled, the TimescaleDB version; and an insert into each restored
  /// hypertable lands in a chunk.
  void expect_restored_like_source(const std::string& source, const std::string& copy,
                                   pg_cluster& server);
  /// A row inserted into hypertable `table` of `database` lands in a chunk, not in the root
  /// table (which a restore left in restore mode would do).
  void expect_insert_lands_in_a_chunk(pg_cluster& server, const std::string& database,
                                      const std::string& table);

  /// stdout and stderr of an agent run, for messages.
  static std::string output(const process_result& r) { return r.out + r.err; }
};

}  // namespace pgship::test
