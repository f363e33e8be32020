#include "repository/local_listing.hpp"
#include <chrono>

#include <gtest/gtest.h>

#include <pgship/common/backup_name.hpp>

#include "temp_dir.hpp"

namespace pgship::agent {
namespace {

using namespace std::chrono_literals;
using sys_clock = std::chrono::system_clock;

// A dump of `database` taken at `taken` in `dir`, with its manifest in `state`.
std::string stored_backup(const test::temp_dir& dir, const std::string& database,
                          sys_clock::time_point taken, upload_state state) {
  manifest m;
  m.name = format_backup_name(database, taken);
  m.sha256 = std::string(64, 'a');
  m.upload.state = state;
  test::write_file(dir / m.name, "PGDMP");
  EXPECT_FALSE(write_manifest(dir.path(), m));
  return m.name;
}

// The metrics' view of BACKUP_DIR: unshipped = pending or failed uploads (UPLOAD=on only),
// the newest local backup whatever its state, the newest shipped one as the last success.
TEST(SummarizeLocalBackups, CountsUnshippedAndTellsNewestLocalFromNewestShipped) {
  test::temp_dir dir;
  const auto t0 = std::chrono::floor<std::chrono::seconds>(sys_clock::now());
  stored_backup(dir, "db", t0 - 72h, upload_state::uploaded);
  stored_backup(dir, "db", t0 - 48h, upload_state::failed);
  stored_backup(dir, "db", t0 - 24h, upload_state::pending);
  // Another database's and a dump without a manifest do not count.
  test::write_file(dir / format_backup_name("db", t0), "PGDMP");
  test::write_file(dir / format_backup_name("db-other", t0), "PGDMP");

  const auto on = summarize_local_backups(dir.path(), "db", true);
  EXPECT_EQ(on.unshipped, 2);
  EXPECT_EQ(on.newest, t0 - 24h);
  EXPECT_EQ(on.newest_shipped, t0 - 72h);

  const auto off = summarize_local_backups(dir.path(), "db", false);
  EXPECT_EQ(off.unshipped, 0) << "with UPLOAD=off nothing waits for the receiver";
  EXPECT_EQ(off.newest, t0 - 24h);

  const auto none = summarize_local_backups(dir.path(), "db-none", true);
  EXPECT_EQ(none.unshipped, 0);
  EXPECT_FALSE(none.newest);
  EXPECT_FALSE(none.newest_shipped);
}

// The catch-up's list: pending and failed uploads of one database and kind, oldest first, each
// with its manifest; shipped, skipped, other databases' and unvouched dumps are not in it.
TEST(PendingUploads, ListsTheUnshippedOldestFirstWithTheirManifests) {
  test::temp_dir dir;
  const auto t0 = std::chrono::floor<std::chrono::seconds>(sys_clock::now());
  const auto newer = stored_backup(dir, "db", t0 - 24h, upload_state::pending);
  stored_backup(dir, "db", t0 - 36h, upload_state::uploaded);
  const auto older = stored_backup(dir, "db", t0 - 48h, upload_state::failed);
  stored_backup(dir, "db", t0 - 60h, upload_state::skipped);
  stored_backup(dir, "db-other", t0 - 72h, upload_state::pending);
  test::write_file(dir / format_backup_name("db", t0), "PGDMP");

  const auto waiting = pending_uploads(dir.path(), "db", backup_kind::dump);
  ASSERT_EQ(waiting.size(), 2u);
  EXPECT_EQ(waiting[0].name, older);
  EXPECT_EQ(waiting[0].upload.state, upload_state::failed);
  EXPECT_EQ(waiting[1].name, newer);
  EXPECT_TRUE(pending_uploads(dir.path(), "db", backup_kind::globals).empty());
}

}  // namespace
}  // namespace pgship::agent
