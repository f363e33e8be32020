// `restore --create --jobs 2` of a TimescaleDB backup, twenty times in a row, every one exact.
// Parallel pg_restore and TimescaleDB's catalog (whose foreign keys a parallel data load
// breaks, differently each run: timescale/timescaledb#698) fail by chance, so once proves
// little: every run must bring back every count, the compressed chunks and the jobs.

#include <gtest/gtest.h>

#include "timescaledb_fixture.hpp"

namespace pgship::test {
namespace {

const std::string source_db = "tsdb";
constexpr int restores = 20;

class TimescaleRestoreLoop : public timescaledb_fixture {
 protected:
  static void SetUpTestSuite() { create_fixture_database(source_db); }
};

TEST_F(TimescaleRestoreLoop, TwentyParallelRestoresInARowAreAllExact) {
  start();
  const auto name = backup(ts_config(source_db));
  ASSERT_FALSE(name.empty());
  const auto cfg = dir_ / "backup.env";
  const auto relations = timescaledb_fixture_relations();
  const auto counts = exact_counts(ts(), source_db, relations);
  const auto compressed = compressed_chunks(ts(), source_db);
  const auto jobs = jobs_signature(ts(), source_db);
  int exact = 0;
  for (int i = 1; i <= restores; ++i) {
    SCOPED_TRACE("restore " + std::to_string(i) + " of " + std::to_string(restores));
    const std::string target = "tsdb_loop_" + std::to_string(i);
    const auto r = run_agent({"restore", "--config", cfg.string(), "--id", name, "--target-db",
                              target, "--create", "--jobs", "2"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    if (r.exit_code == 0) {
      const bool same = exact_counts(ts(), target, relations) == counts &&
                        compressed_chunks(ts(), target) == compressed &&
                        jobs_signature(ts(), target) == jobs;
      EXPECT_TRUE(same) << "restore " << i << " differs from the source";
      if (same) ++exact;
    }
    ts().drop_database(target);
  }
  EXPECT_EQ(exact, restores);
}

}  // namespace
}  // namespace pgship::test
