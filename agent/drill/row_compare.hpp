#pragma once
// What a restore drill proves: the restored database holds the tables the dump held, each
// with the rows the dump's own snapshot counted. A pure comparison, so its rules are tested
// without a database.

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/manifest.hpp"

namespace pgship::agent {

struct row_mismatch {
  enum class kind { missing, extra, count };
  kind what = kind::count;
  std::string table;  // schema.name
  std::uint64_t expected = 0;
  std::uint64_t restored = 0;
};

/// Every difference between `expected` (the manifest) and `restored`, ordered by table:
/// a table the backup has but the restore lacks, one the restore has that the backup did not
/// list, and one whose rows differ. `compare_counts` false checks only the set of tables (the
/// manifest's counts are estimates).
std::vector<row_mismatch> compare_rows(const std::vector<table_rows>& expected,
                                       const std::vector<table_rows>& restored,
                                       bool compare_counts = true);

/// "public.trades: 1500000 rows in the backup, 1499990 restored" and the like.
std::string describe(const row_mismatch& m);

}  // namespace pgship::agent
