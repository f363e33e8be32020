#pragma once
// The old tool's metric names (LEGACY_METRICS=on), so Grafana panels and alerts built on its
// node_exporter textfile keep working. Each maps to a pgship_* series (README, migration):
//   mt5_backup_status{database}           1 last backup ok, 0 failed   (pgship_backup_last_status)
//   mt5_backup_db_size_bytes{database}    size of the last backup file
//   (pgship_backup_last_size_bytes) mt5_backup_repo_size_bytes            bytes of all local
//   backups in BACKUP_DIR mt5_backup_duration_seconds{database} the last backup's wall time
//   mt5_backup_last_timestamp{database,ts} 1, ts = the last success, ISO 8601 UTC
//                                          (pgship_backup_last_success_timestamp_seconds)
// Thread-safe.

#include <map>
#include <mutex>
#include <string>

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "pipeline/run_record.hpp"

namespace pgship::agent {

class legacy_metrics {
 public:
  explicit legacy_metrics(prometheus::Registry& registry);

  void run_finished(const run_record& run);
  void last_success(const std::string& database, std::chrono::system_clock::time_point at);
  void repo_size(std::uint64_t bytes);

 private:
  prometheus::Family<prometheus::Gauge>& status_;
  prometheus::Family<prometheus::Gauge>& db_size_;
  prometheus::Gauge& repo_size_;
  prometheus::Family<prometheus::Gauge>& duration_;
  prometheus::Family<prometheus::Gauge>& last_timestamp_;
  std::mutex mutex_;
  std::map<std::string, prometheus::Gauge*> last_timestamp_of_;
};

}  // namespace pgship::agent
