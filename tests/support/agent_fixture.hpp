#pragma once
// A GoogleTest fixture for the agent: the shared PostgreSQL cluster, a receiver process, a
// BACKUP_DIR in a temp dir, and helpers to write a config file and run pgship-agent as a
// process, as an operator would.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pg_cluster.hpp"
#include "process.hpp"
#include "receiver_fixture.hpp"

namespace pgship::test {

class agent_fixture : public receiver_fixture {
 protected:
  agent_fixture() : receiver_fixture("agent-token-5d1c") {}

  pg_cluster& pg() { return pg_cluster::shared(); }
  /// The server agent_config points the agent at (a fixture of another cluster overrides it).
  virtual pg_cluster& database_server() { return pg(); }
  std::filesystem::path backup_dir() const { return dir_ / "backups"; }

  /// The agent's settings for `databases` of `server` (default: database_server()) against
  /// the running receiver (or UPLOAD=off when none runs), with `overrides` on top.
  std::map<std::string, std::string> agent_config(
      const std::string& databases, const std::map<std::string, std::string>& overrides = {},
      pg_cluster* server = nullptr);
  /// Writes `config` as an env file and returns its path.
  std::filesystem::path write_config(const std::map<std::string, std::string>& config,
                                     const std::string& file_name = "agent.env");
  /// `pgship-agent <args>`, behind $PGSHIP_TEST_WRAPPER when set (e.g. a sanitizer build).
  static std::vector<std::string> agent_argv(const std::vector<std::string>& args);
  /// Runs `pgship-agent <args>` with this process's environment (which must not set the
  /// agent's keys: the environment wins over --config).
  process_result run_agent(const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout = std::chrono::seconds(300));

  /// Local `.dump` files in BACKUP_DIR, sorted.
  std::vector<std::string> local_dumps() const;
  /// Files left in BACKUP_DIR/.partial (the lock file aside).
  std::vector<std::string> partial_files() const;
  /// Committed `.dump` files on the receiver for `database` (client `default`), sorted.
  std::vector<std::string> stored_dumps(const std::string& database) const;

  /// Names in `dir` ending with `suffix`, sorted.
  static std::vector<std::string> files_ending(const std::filesystem::path& dir,
                                               const std::string& suffix);
  /// The file's sha256 in hex (or why it cannot be read).
  static std::string sha256_hex(const std::filesystem::path& file);

  /// "count|md5" of every row of every table of the sample schema, for comparing copies.
  std::string table_fingerprint(const std::string& database);
};

}  // namespace pgship::test
