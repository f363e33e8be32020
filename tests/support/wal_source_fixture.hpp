#pragma once
// A daemon fixture whose database server is the test's own cluster (made per test, with the
// WAL settings it needs) and which may recover a copy of it: both servers' logs and the
// agent's are shown when a test fails.

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "daemon_fixture.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"
#include "wal_recovery.hpp"

namespace pgship::test {

class wal_source_fixture : public daemon_fixture {
 protected:
  pg_cluster& database_server() override { return *source_; }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "agent log:\n" << read_file(dir_ / "agent.log");
      if (recovered_) std::cerr << "recovered server log:\n" << recovered_->cluster().server_log();
    }
    daemon_fixture::TearDown();
  }

  std::string sql(pg_cluster& server, const std::string& query) {
    return server.query_value("postgres", query);
  }

  /// A new age key pair in dir_/wal.key; returns its recipient.
  std::string new_wal_key() {
    const auto key = (dir_ / "wal.key").string();
    const auto made = run_process({"age-keygen", "-o", key});
    if (!made.ok()) throw std::runtime_error("age-keygen failed: " + made.out);
    const auto recipient = run_process({"age-keygen", "-y", key});
    if (!recipient.ok()) throw std::runtime_error("age-keygen -y failed: " + recipient.out);
    return recipient.out.substr(0, recipient.out.find('\n'));
  }

  /// The daemon streaming the source's WAL with zstd (and age to `recipient` unless empty),
  /// sealing every 100 ms; true once the stream is up.
  bool start_streaming(const std::string& recipient) {
    std::map<std::string, std::string> settings{
        {"WAL_STREAM", "on"}, {"WAL_ACK_INTERVAL", "200ms"}, {"COMPRESSION", "zstd"}};
    if (!recipient.empty()) settings["ENCRYPT_RECIPIENTS"] = recipient;
    start_daemon(settings, "postgres");
    using namespace std::chrono_literals;
    return wait_until([&] { return metric("pgship_wal_stream_up") == 1; }, 120s);
  }

  std::unique_ptr<pg_cluster> source_;
  std::unique_ptr<wal_recovery> recovered_;
};

}  // namespace pgship::test
