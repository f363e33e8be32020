// The agent's memory while it streams: its peak RSS (VmHWM of the daemon) stays within 64 MiB
// while a bulk load writes about 300 MB of WAL (16 MiB segments, zstd + age on) as fast as the
// server can, and the receiver acknowledges all of it. The figure is printed.

#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <string>

#include <gtest/gtest.h>

#include <pgship/common/wal/wal_names.hpp>

#include "daemon_fixture.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;

constexpr long limit_kib = 64 * 1024;

// A line of /proc/<pid>/status in KiB ("VmHWM", "VmRSS"); -1 when absent.
long status_kib(int pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  return -1;
}

class WalMemory : public daemon_fixture {
 protected:
  pg_cluster& database_server() override { return *source_; }
  std::unique_ptr<pg_cluster> source_;
};

TEST_F(WalMemory, StreamingThreeHundredMegabytesOfWalStaysWithin64MiB) {
  source_ = std::make_unique<pg_cluster>();
  start();
  const auto key_file = dir_ / "wal.key";
  ASSERT_TRUE(run_process({"age-keygen", "-o", key_file.string()}).ok());
  const auto recipient = run_process({"age-keygen", "-y", key_file.string()});
  ASSERT_TRUE(recipient.ok()) << recipient.out;
  start_daemon({{"WAL_STREAM", "on"},
                {"WAL_ACK_INTERVAL", "1s"},
                {"COMPRESSION", "zstd"},
                {"ENCRYPT_RECIPIENTS", recipient.out.substr(0, recipient.out.find('\n'))}},
               "postgres");
  ASSERT_TRUE(wait_until([&] { return metric("pgship_wal_stream_up") == 1; }, 120s))
      << "the WAL stream did not come up";
  const long idle_kib = status_kib(daemon_.pid, "VmHWM");

  const auto sql = [&](const std::string& q) { return source_->query_value("postgres", q); };
  const auto start_lsn = pgship::wal::parse_lsn(sql("SELECT pg_current_wal_insert_lsn()"));
  ASSERT_TRUE(start_lsn);
  // Rows of 8 md5s: hex text, which zstd halves but cannot make vanish.
  source_->execute("postgres", "CREATE TABLE wide (id bigint, payload text)");
  for (int batch = 0; batch < 5; ++batch) {
    source_->execute(
        "postgres",
        "INSERT INTO wide SELECT g, md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) || "
        "md5((g + 3)::text) || md5((g + 4)::text) || md5((g + 5)::text) || md5((g + 6)::text) "
        "|| md5((g + 7)::text) FROM generate_series(" +
            std::to_string(batch * 200000 + 1) + ", " + std::to_string(batch * 200000 + 200000) +
            ") g");
  }
  const auto end_lsn = pgship::wal::parse_lsn(sql("SELECT pg_current_wal_flush_lsn()"));
  ASSERT_TRUE(end_lsn);
  const double wal_mb = static_cast<double>(*end_lsn - *start_lsn) / 1e6;
  ASSERT_GE(wal_mb, 250) << "the load wrote less WAL than it should";

  ASSERT_TRUE(wait_until(
      [&] { return metric("pgship_wal_durable_lsn_bytes") >= static_cast<double>(*end_lsn); },
      600s))
      << "the receiver did not acknowledge the load's WAL";
  const long peak_kib = status_kib(daemon_.pid, "VmHWM");
  ASSERT_GT(peak_kib, 0);
  std::cout << std::fixed << std::setprecision(1) << "agent peak RSS (VmHWM) streaming "
            << static_cast<long>(wal_mb) << " MB of WAL with zstd + age: " << peak_kib / 1024.0
            << " MiB (idle " << idle_kib / 1024.0 << " MiB; target <= 64 MiB)\n";
  EXPECT_LE(peak_kib, limit_kib);
  EXPECT_EQ(stop_daemon(), 0);
}

}  // namespace
}  // namespace pgship::test
