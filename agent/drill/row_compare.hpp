#pragma once
// What a restore drill proves: the restored database holds the tables the dump held, each
// with the rows the dump's own snapshot counted. A pure comparison, so its rules are tested
// without a database.

#include <cstdint>
#include <string>
#include <vector>

#include "repository/manifest.hpp"

namespace pgship::agent {

struct row_mismatch {
  enum class kind { missing, extra, count, uncounted };
  kind what = kind::count;
  std::string table;  // schema.name
  std::uint64_t expected = 0;
  std::uint64_t restored = 0;
  std::string error;  // uncounted: why the restored table could not be counted
};

/// Every difference between `expected` (the manifest) and `restored`, ordered by table:
/// a table the backup has but the restore lacks, one the restore has that the backup did not
/// list, and one whose rows differ (or cannot be counted). `compare_counts` false checks only
/// the set of tables (the manifest's counts are estimates); a table whose count failed when
/// the backup was taken is only checked to be there.
std::vector<row_mismatch> compare_rows(const std::vector<table_rows>& expected,
                                       const std::vector<table_rows>& restored,
                                       bool compare_counts = true);

/// TimescaleDB's objects in the restored copy against the manifest's: every hypertable with as
/// many chunks and compressed chunks, every job scheduled as it was. One line per difference.
std::vector<std::string> compare_timescaledb(const timescaledb_facts& want,
                                             const timescaledb_facts& got);

/// "public.trades: 1500000 rows in the backup, 1499990 restored" and the like.
std::string describe(const row_mismatch& m);

}  // namespace pgship::agent
