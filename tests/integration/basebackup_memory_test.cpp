// The agent's memory during a base backup: the one-shot `pgship-agent basebackup` of a cluster
// of a few hundred MB, with zstd (its worker threads) and age on, uploading to a receiver from
// memory while a daemon streams the WAL that completes it, peaks (VmHWM of the agent process
// itself; pg_basebackup, its child, is not counted) within 64 MiB. The figure is printed.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include <dirent.h>
#include <gtest/gtest.h>

#include "daemon_fixture.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;

constexpr long limit_kib = 64 * 1024;

// A line of /proc/<pid>/status in KiB ("VmHWM"); -1 when absent (the process is gone).
long status_kib(const std::string& pid, const std::string& field) {
  std::ifstream status("/proc/" + pid + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// The pid of the process whose command line holds `marker` (the one-shot's config path,
// found whether or not a PGSHIP_TEST_WRAPPER runs it); empty when none runs.
std::string pid_with_argument(const std::string& marker) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return {};
  std::string found;
  while (const dirent* e = readdir(proc)) {
    const std::string pid = e->d_name;
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmdline("/proc/" + pid + "/cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (args.find("pgship-agent") != std::string::npos && args.find(marker) != std::string::npos) {
      found = pid;
    }
  }
  closedir(proc);
  return found;
}

class BaseBackupMemory : public daemon_fixture {
 protected:
  pg_cluster& database_server() override { return *source_; }
  std::unique_ptr<pg_cluster> source_;
};

TEST_F(BaseBackupMemory, ABaseBackupWithZstdAndAgeStaysWithin64MiB) {
  source_ = std::make_unique<pg_cluster>();
  start();
  // About 300 MB of rows of 8 md5s: hex text, which zstd halves but cannot make vanish.
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
  const double cluster_mb = std::stod(source_->query_value(
                                "postgres", "SELECT sum(pg_database_size(oid)) FROM pg_database")) /
                            1e6;
  ASSERT_GE(cluster_mb, 250) << "the cluster is smaller than it should be";

  const auto key_file = dir_ / "base.key";
  ASSERT_TRUE(run_process({"age-keygen", "-o", key_file.string()}).ok());
  const auto recipient_out = run_process({"age-keygen", "-y", key_file.string()});
  ASSERT_TRUE(recipient_out.ok()) << recipient_out.out;
  const std::string recipient = recipient_out.out.substr(0, recipient_out.out.find('\n'));
  start_daemon({{"WAL_STREAM", "on"},
                {"WAL_ACK_INTERVAL", "200ms"},
                {"COMPRESSION", "zstd"},
                {"ENCRYPT_RECIPIENTS", recipient}},
               "postgres");
  ASSERT_TRUE(wait_until([&] { return metric("pgship_wal_stream_up") == 1; }, 120s))
      << "the WAL stream did not come up";

  // ZSTD_THREADS=2 whatever the machine: the workers are what the limit is about.
  // WAL_STREAM=on on the daemon's slot: the daemon's stream completes the backup.
  const auto config = write_config(agent_config("postgres", {{"WAL_STREAM", "on"},
                                                             {"COMPRESSION", "zstd"},
                                                             {"ZSTD_THREADS", "2"},
                                                             {"ENCRYPT_RECIPIENTS", recipient}}),
                                   "oneshot.env");
  auto backup = std::async(std::launch::async, [this, &config] {
    return run_agent({"basebackup", "--config", config.string()}, 900s);
  });
  long peak_kib = -1;
  std::string pid;
  while (backup.wait_for(50ms) != std::future_status::ready) {
    if (pid.empty()) pid = pid_with_argument(config.string());
    if (pid.empty()) continue;
    peak_kib = std::max(peak_kib, status_kib(pid, "VmHWM"));
  }
  const auto r = backup.get();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_NE(r.out.find("WAL to its stop point held"), std::string::npos) << r.out;
  ASSERT_GT(peak_kib, 0) << "the agent's VmHWM was never read";
  std::cout << std::fixed << std::setprecision(1)
            << "agent peak RSS (VmHWM, the agent alone) during a base backup of "
            << static_cast<long>(cluster_mb)
            << " MB with zstd (2 workers) + age: " << peak_kib / 1024.0
            << " MiB (target <= 64 MiB)\n";
  EXPECT_LE(peak_kib, limit_kib);
  EXPECT_EQ(stop_daemon(), 0);
}

}  // namespace
}  // namespace pgship::test
