// The physical archive's proof that does not trust pgship: a fresh cluster recovers with
// PostgreSQL alone from what the receiver holds. Its restore_command is
// deploy/pgship-restore-wal.sh (curl, age, zstd, truncate); its base backup is one the test
// takes itself with pg_basebackup. The recovered cluster must hold every transaction whose
// commit the server acknowledged before the agent reported the receiver's last durable
// acknowledgement, and the receiver must hold only ciphertext that the reference age CLI
// decrypts.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgship/common/wal/wal_names.hpp>

#include "curl.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "wal_source_fixture.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::string_view marker = "pgship-proof-marker-7f3a";

class WalRecoveryProof : public wal_source_fixture {
 protected:
  double durable_lsn() { return metric("pgship_wal_durable_lsn_bytes"); }
};

TEST_F(WalRecoveryProof, PostgresAloneRecoversEveryAcknowledgedCommitFromTheReceiver) {
  source_ = std::make_unique<pg_cluster>(
      pg_cluster_options{.initdb_args = {"--wal-segsize=1"}, .durable_commits = true});
  start();
  const auto recipient = new_wal_key();
  const auto identity = read_file(dir_ / "wal.key");
  ASSERT_TRUE(start_streaming(recipient)) << "the WAL stream did not come up";

  // The base backup the copy starts from. The agent's slot existed before it started, so the
  // WAL from its start point on is streamed.
  const auto base_tar = take_tar_base_backup(*source_, dir_ / "base");

  // Committed after the base backup: only the WAL archive has these. Several segments fill
  // (1 MiB each), and the last commit lands in one that stays far from full.
  source_->execute("postgres", "CREATE TABLE proof (id int PRIMARY KEY, note text)");
  for (int batch = 0; batch < 6; ++batch) {
    source_->execute("postgres", "INSERT INTO proof SELECT g, '" + std::string(marker) +
                                     "' || repeat(md5(g::text), 8) FROM generate_series(" +
                                     std::to_string(batch * 2000 + 1) + ", " +
                                     std::to_string(batch * 2000 + 2000) + ") g");
  }
  source_->execute("postgres", "INSERT INTO proof VALUES (999999, 'the last commit')");
  const auto last_commit =
      pgship::wal::parse_lsn(sql(*source_, "SELECT pg_current_wal_flush_lsn()"));
  ASSERT_TRUE(last_commit);
  const auto expected_rows = sql(*source_, "SELECT count(*) FROM proof");
  const auto expected_sum = sql(*source_, "SELECT sum(hashtext(note)::bigint + id) FROM proof");
  const auto system = sql(*source_, "SELECT system_identifier FROM pg_control_system()");
  const auto segment_size = std::stoull(
      sql(*source_, "SELECT setting::bigint * 1 FROM pg_settings WHERE name = 'wal_segment_size'"));
  ASSERT_EQ(segment_size, 1u << 20);

  // The agent reports the receiver's acknowledgement; from then on the source may be lost.
  ASSERT_TRUE(wait_until([&] { return durable_lsn() >= static_cast<double>(*last_commit); }, 120s))
      << "durable " << durable_lsn() << " never reached the last commit " << *last_commit;
  source_->kill9();
  EXPECT_EQ(stop_daemon(), 0);

  // What the receiver holds is ciphertext: no unit shows the marker.
  const auto wal_root = receiver_->storage_dir() / ".wal";
  ASSERT_TRUE(stdfs::exists(wal_root));
  std::vector<stdfs::path> units;
  for (const auto& entry : stdfs::recursive_directory_iterator(wal_root))
    if (entry.is_regular_file() && pgship::wal::parse_unit_name(entry.path().filename().string()))
      units.push_back(entry.path());
  ASSERT_GE(units.size(), 4u) << "6 batches of ~1 MiB of WAL make several segments";
  bool marker_in_plaintext = false;
  for (const auto& unit : units) {
    EXPECT_TRUE(unit.filename().string().ends_with(".zst.age")) << unit;
    EXPECT_EQ(read_file(unit).find(marker), std::string::npos) << unit << " holds plaintext";
    // The reference age CLI and zstd read every unit alone.
    const auto plain = run_process({"sh", "-c", "age -d -i \"$1\" \"$2\" | zstd -dqc", "sh",
                                    (dir_ / "wal.key").string(), unit.string()});
    ASSERT_TRUE(plain.ok()) << unit << ": " << plain.out;
    if (plain.out.find(marker) != std::string::npos) marker_in_plaintext = true;
  }
  EXPECT_TRUE(marker_in_plaintext) << "the rows' WAL decrypts from the units";

  // The newest segment is partial, and the receiver says so.
  const auto last_segment = pgship::wal::segment_name(
      pgship::wal::segment_of(1, *last_commit - 1, segment_size), segment_size);
  const auto list = curl({"-H", "Authorization: Bearer " + token_,
                          receiver_->url("/api/wal/" + system + "/segments/" + last_segment)});
  ASSERT_EQ(list.status, 200) << list.error << list.body;
  EXPECT_TRUE(list.body.starts_with("pgship-wal-list 1 1048576 partial\n")) << list.body;

  // Recovery with PostgreSQL alone.
  recovered_ = std::make_unique<wal_recovery>(
      base_tar, wal_archive_access{receiver_->url(), system, token_, identity},
      source_->password());
  ASSERT_TRUE(recovered_->wait_promoted(180s)) << "recovery did not finish";
  EXPECT_EQ(sql(recovered_->cluster(), "SELECT count(*) FROM proof"), expected_rows);
  EXPECT_EQ(sql(recovered_->cluster(), "SELECT sum(hashtext(note)::bigint + id) FROM proof"),
            expected_sum);
  EXPECT_EQ(sql(recovered_->cluster(), "SELECT note FROM proof WHERE id = 999999"),
            "the last commit");
  const auto log = recovered_->cluster().server_log();
  EXPECT_NE(log.find("restored log file \"" + last_segment + "\" from archive"), std::string::npos)
      << "the last, partial segment came from the archive";
  EXPECT_EQ(log.find("restore_command"), std::string::npos) << "no restore_command failed";

  // The script's verdicts, asked directly: a segment comes back whole (padded), one the archive
  // never had is 1 (recovery may end there), and a unit whose bytes changed on the receiver
  // is 126 (recovery stops) rather than a shorter file.
  shared_dir settings;
  const auto script = stdfs::path(PGSHIP_SOURCE_DIR) / "deploy" / "pgship-restore-wal.sh";
  const auto token_file = settings.put("token", token_);
  const auto key_file = settings.put("wal.key", identity);
  const auto out = dir_ / "segment";
  const auto fetch = [&](const std::string& segment) {
    return run_process({script.string(), segment, out.string()},
                       {.env = {{"PGSHIP_URL", receiver_->url()},
                                {"PGSHIP_SYSTEM", system},
                                {"PGSHIP_TOKEN_FILE", token_file.string()},
                                {"PGSHIP_IDENTITY", key_file.string()}}});
  };
  const auto whole = fetch(last_segment);
  EXPECT_EQ(whole.exit_code, 0) << whole.out;
  EXPECT_EQ(stdfs::file_size(out), segment_size);
  EXPECT_EQ(fetch("0000000100000000000000FF").exit_code, 1);
  EXPECT_EQ(run_process({script.string(), last_segment, out.string()}).exit_code, 126)
      << "no settings";
  const auto victim = units.back();
  auto bytes = read_file(victim);
  bytes[bytes.size() / 2] ^= 0x01;
  write_file(victim, bytes);
  const auto segment_of_victim = victim.parent_path().filename().string();
  const auto broken = fetch(segment_of_victim);
  EXPECT_EQ(broken.exit_code, 126) << broken.out;
}

}  // namespace
}  // namespace pgship::test
