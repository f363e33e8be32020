#pragma once
// TimescaleDB in the integration tests: whether this machine has it (built by
// tests/support/timescaledb/install-timescaledb.sh, which tests/run.sh runs), a cluster that
// preloads it, a server that offers another version of it, and what tests compare between a
// database and its restored copy.
//
// Outside CI, a machine without TimescaleDB skips these tests with the reason; under CI
// (CI=true) they fail instead, so a broken install is never a green run.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "pg_cluster.hpp"
#include "temp_dir.hpp"
#include "timescaledb_fixture.sql.hpp"

namespace pgship::test {

/// The version the tests build and expect (DESIGN: the last release for PostgreSQL 15).
inline constexpr std::string_view timescaledb_version = "2.28.3";

/// Why TimescaleDB tests cannot run here, or "" when they can.
std::string timescaledb_missing();
/// CI=true in the environment.
bool running_under_ci();

/// In a test's body or SetUp: skip (outside CI) or fail (under CI) when TimescaleDB is missing.
/// ctest reports the skip as such (SKIP_REGULAR_EXPRESSION "skipping: TimescaleDB"), never the
/// failure.
#define PGSHIP_REQUIRE_TIMESCALEDB()                                                            \
  do {                                                                                          \
    if (const auto why_missing = ::pgship::test::timescaledb_missing(); !why_missing.empty()) { \
      if (::pgship::test::running_under_ci())                                                   \
        GTEST_FAIL() << why_missing << " (CI=true: the TimescaleDB tests must run)";            \
      GTEST_SKIP() << "skipping: " << why_missing;                                              \
    }                                                                                           \
  } while (false)

/// Settings of a cluster that preloads TimescaleDB, quietly (no telemetry), with workers for
/// the many databases a test binary makes (each has its scheduler), and a launcher that notices
/// new databases within a second; `extra` lines on top.
pg_cluster_options timescaledb_cluster_options(std::vector<std::string> extra = {});

/// One TimescaleDB cluster per test binary, started on first use, stopped at exit.
pg_cluster& timescaledb_cluster();

/// Runs the fixture's steps (timescaledb_fixture.sql.hpp) in a new database `name`.
void load_timescaledb_fixture(pg_cluster& pg, const std::string& name,
                              const timescaledb_fixture_options& options = {});

/// A cluster on a server that preloads timescaledb but offers another version of it
/// (`offered`) than the installed one: PostgreSQL 15's server programs copied into a directory
/// of their own (PostgreSQL finds its share and lib directories relative to its binary), whose
/// extension directory offers TimescaleDB `offered` only, with scripts that fail if run.
class timescaledb_other_version_server {
 public:
  explicit timescaledb_other_version_server(const std::string& offered);
  pg_cluster& cluster() { return *cluster_; }

 private:
  temp_dir dir_{"pgship-tsdb-other"};
  std::unique_ptr<pg_cluster> cluster_;  // stopped before dir_ goes
};

// What a restored copy must have as its source had it.

/// "schema.name" → count(*) of each relation (hypertables at the root, caggs through the view).
std::map<std::string, std::uint64_t> exact_counts(pg_cluster& pg, const std::string& database,
                                                  const std::vector<timescaledb_relation>& of);
/// Chunks that are compressed, in the whole database.
std::uint64_t compressed_chunks(pg_cluster& pg, const std::string& database);
/// Every job as timescaledb_information.jobs describes it, one line per job in id order,
/// without next_start (a restored copy has its own).
std::string jobs_signature(pg_cluster& pg, const std::string& database);
/// Job runs recorded in the database (timescaledb_information.job_stats).
std::uint64_t job_runs(pg_cluster& pg, const std::string& database);
bool database_exists(pg_cluster& pg, const std::string& name);
/// The TimescaleDB version installed in `database` ("" when none).
std::string installed_timescaledb(pg_cluster& pg, const std::string& database);

}  // namespace pgship::test
