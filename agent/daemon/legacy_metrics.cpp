#include "daemon/legacy_metrics.hpp"

#include <pgship/common/time_text.hpp>

namespace pgship::agent {

legacy_metrics::legacy_metrics(prometheus::Registry& registry)
    : status_(prometheus::BuildGauge()
                  .Name("mt5_backup_status")
                  .Help("1 when the last backup succeeded, 0 when it failed (old tool's name)")
                  .Register(registry)),
      db_size_(prometheus::BuildGauge()
                   .Name("mt5_backup_db_size_bytes")
                   .Help("Size of the last backup file in bytes (old tool's name)")
                   .Register(registry)),
      repo_size_(prometheus::BuildGauge()
                     .Name("mt5_backup_repo_size_bytes")
                     .Help("Bytes of all local backups in BACKUP_DIR (old tool's name)")
                     .Register(registry)
                     .Add({})),
      duration_(prometheus::BuildGauge()
                    .Name("mt5_backup_duration_seconds")
                    .Help("Wall time of the last backup in seconds (old tool's name)")
                    .Register(registry)),
      last_timestamp_(prometheus::BuildGauge()
                          .Name("mt5_backup_last_timestamp")
                          .Help("Always 1; ts is when the last backup succeeded (old tool's name)")
                          .Register(registry)) {}

void legacy_metrics::run_finished(const run_record& run) {
  for (const auto& d : run.databases) {
    if (d.archive || d.globals) continue;
    if (!counts_as_backup_result(d.error)) continue;
    status_.Add({{"database", d.database}}).Set(d.error ? 0 : 1);
    double seconds = 0;
    for (const auto& s : d.stages)
      seconds += s.seconds;
    duration_.Add({{"database", d.database}}).Set(seconds);
    if (!d.error) {
      db_size_.Add({{"database", d.database}}).Set(static_cast<double>(d.size));
      last_success(d.database, run.finished);
    }
  }
}

void legacy_metrics::last_success(const std::string& database,
                                  std::chrono::system_clock::time_point at) {
  // One series per database: the label changes with every success.
  std::lock_guard lock(mutex_);
  if (const auto it = last_timestamp_of_.find(database); it != last_timestamp_of_.end()) {
    last_timestamp_.Remove(it->second);
  }
  auto& gauge = last_timestamp_.Add({{"database", database}, {"ts", format_utc(at)}});
  gauge.Set(1);
  last_timestamp_of_[database] = &gauge;
}

void legacy_metrics::repo_size(std::uint64_t bytes) {
  repo_size_.Set(static_cast<double>(bytes));
}

}  // namespace pgship::agent
