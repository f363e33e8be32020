#include "daemon/agent_metrics.hpp"

#include <pgship/common/fs.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/metrics_text.hpp>
#include <pgship/common/version.hpp>

namespace pgship::agent {
namespace {

double seconds_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

const prometheus::Histogram::BucketBoundaries stage_buckets{0.1, 0.5, 1,    5,    15,   60,
                                                            300, 900, 1800, 3600, 7200, 21600};

}  // namespace

struct agent_metrics::wal_series {
  explicit wal_series(prometheus::Registry& r)
      : up(prometheus::BuildGauge()
               .Name("pgship_wal_stream_up")
               .Help("1 while WAL streams from the server, else 0")
               .Register(r)
               .Add({})),
        server(prometheus::BuildGauge()
                   .Name("pgship_wal_server_lsn_bytes")
                   .Help("The server's end of WAL, as it last said")
                   .Register(r)
                   .Add({})),
        received(prometheus::BuildGauge()
                     .Name("pgship_wal_received_lsn_bytes")
                     .Help("Past the last WAL byte received")
                     .Register(r)
                     .Add({})),
        durable(prometheus::BuildGauge()
                    .Name("pgship_wal_durable_lsn_bytes")
                    .Help("Past the last WAL byte the receiver made durable")
                    .Register(r)
                    .Add({})),
        lag_bytes(prometheus::BuildGauge()
                      .Name("pgship_wal_lag_bytes")
                      .Help("WAL the server has and the receiver not yet")
                      .Register(r)
                      .Add({})),
        lag_seconds(
            prometheus::BuildGauge()
                .Name("pgship_wal_lag_seconds")
                .Help("Age of the oldest WAL the receiver does not hold durably: the RPO now")
                .Register(r)
                .Add({})),
        shipped(prometheus::BuildCounter()
                    .Name("pgship_wal_segments_shipped_total")
                    .Help("WAL segments whose last unit the receiver made durable")
                    .Register(r)
                    .Add({})),
        slot_retained(prometheus::BuildGauge()
                          .Name("pgship_wal_slot_retained_bytes")
                          .Help("WAL the stream's replication slot keeps on the server")
                          .Register(r)) {}

  prometheus::Gauge& up;
  prometheus::Gauge& server;
  prometheus::Gauge& received;
  prometheus::Gauge& durable;
  prometheus::Gauge& lag_bytes;
  prometheus::Gauge& lag_seconds;
  prometheus::Counter& shipped;
  prometheus::Family<prometheus::Gauge>& slot_retained;  // one series once it has a reading
  std::uint64_t shipped_seen = 0;  // the stream's count the counter has taken in
};

agent_metrics::agent_metrics(const std::vector<std::string>& databases, bool legacy)
    : registry_(std::make_shared<prometheus::Registry>()),
      age_registry_(std::make_shared<prometheus::Registry>()),
      runs_(prometheus::BuildCounter()
                .Name("pgship_backup_runs_total")
                .Help("Backup runs per database by result (ok, failed, cancelled)")
                .Register(*registry_)),
      last_status_(prometheus::BuildGauge()
                       .Name("pgship_backup_last_status")
                       .Help("1 when the last backup of the database succeeded, else 0")
                       .Register(*registry_)),
      last_success_(prometheus::BuildGauge()
                        .Name("pgship_backup_last_success_timestamp_seconds")
                        .Help("When the last successful backup of the database finished")
                        .Register(*registry_)),
      last_size_(prometheus::BuildGauge()
                     .Name("pgship_backup_last_size_bytes")
                     .Help("Size of the last successful backup of the database")
                     .Register(*registry_)),
      stage_duration_(prometheus::BuildHistogram()
                          .Name("pgship_backup_stage_duration_seconds")
                          .Help("Duration of pipeline stages")
                          .Register(*registry_)),
      database_size_(prometheus::BuildGauge()
                         .Name("pgship_database_size_bytes")
                         .Help("pg_database_size at the last run")
                         .Register(*registry_)),
      upload_bytes_(prometheus::BuildCounter()
                        .Name("pgship_upload_bytes_total")
                        .Help("Bytes sent to the receiver, re-sent ones included")
                        .Register(*registry_)
                        .Add({})),
      upload_retries_(prometheus::BuildCounter()
                          .Name("pgship_upload_retries_total")
                          .Help("Upload attempts after a failure")
                          .Register(*registry_)
                          .Add({})),
      upload_resumes_(prometheus::BuildCounter()
                          .Name("pgship_upload_resumes_total")
                          .Help("Uploads continued from the receiver's offset after a failure")
                          .Register(*registry_)
                          .Add({})),
      local_backups_(prometheus::BuildGauge()
                         .Name("pgship_local_backups")
                         .Help("Backups kept in BACKUP_DIR per database")
                         .Register(*registry_)),
      next_run_(prometheus::BuildGauge()
                    .Name("pgship_next_run_timestamp_seconds")
                    .Help("When the scheduler fires next")
                    .Register(*registry_)
                    .Add({})),
      in_progress_(prometheus::BuildGauge()
                       .Name("pgship_run_in_progress")
                       .Help("1 while a backup run or a restore drill is active")
                       .Register(*registry_)
                       .Add({})),
      success_age_(prometheus::BuildGauge()
                       .Name("pgship_backup_last_success_age_seconds")
                       .Help("Seconds since the last successful backup (at scrape time)")
                       .Register(*age_registry_)),
      skipped_(prometheus::BuildCounter()
                   .Name("pgship_backup_skipped_total")
                   .Help("Scheduled fires (backups and drills) skipped because a job was active")
                   .Register(*registry_)
                   .Add({})),
      webhook_deliveries_(
          prometheus::BuildCounter()
              .Name("pgship_webhook_deliveries_total")
              .Help("Webhook deliveries by result (delivered, retried, dropped, kept)")
              .Register(*registry_)),
      drill_runs_(prometheus::BuildCounter()
                      .Name("pgship_drill_runs_total")
                      .Help("Restore drills per database by result (ok, failed, cancelled)")
                      .Register(*registry_)),
      drill_last_status_(prometheus::BuildGauge()
                             .Name("pgship_drill_last_status")
                             .Help("1 when the last restore drill of the database passed, else 0")
                             .Register(*registry_)),
      drill_last_success_(prometheus::BuildGauge()
                              .Name("pgship_drill_last_success_timestamp_seconds")
                              .Help("When the last passing restore drill of the database ended")
                              .Register(*registry_)),
      drill_duration_(prometheus::BuildGauge()
                          .Name("pgship_drill_duration_seconds")
                          .Help("Download + restore wall time of the last restore drill: the "
                                "measured recovery time")
                          .Register(*registry_)),
      archive_size_(prometheus::BuildGauge()
                        .Name("pgship_archive_last_size_bytes")
                        .Help("Size of the last archive of an ARCHIVE_DIRS directory")
                        .Register(*registry_)),
      drill_mismatches_(prometheus::BuildGauge()
                            .Name("pgship_drill_row_mismatches")
                            .Help("Tables whose rows differed from the backup's counts in the "
                                  "last restore drill")
                            .Register(*registry_)),
      unshipped_(prometheus::BuildGauge()
                     .Name("pgship_backup_unshipped")
                     .Help("Local backups in BACKUP_DIR the receiver does not have yet (upload "
                           "pending or failed); 0 with UPLOAD=off")
                     .Register(*registry_)),
      last_local_(prometheus::BuildGauge()
                      .Name("pgship_backup_last_local_timestamp_seconds")
                      .Help("When the newest local backup of the database was taken, shipped "
                            "or not")
                      .Register(*registry_)),
      globals_status_(prometheus::BuildGauge()
                          .Name("pgship_globals_last_status")
                          .Help("1 when the last GLOBALS backup (pg_dumpall --globals-only: "
                                "roles, tablespaces) succeeded, 0 when it failed")
                          .Register(*registry_)),
      globals_success_(prometheus::BuildGauge()
                           .Name("pgship_globals_last_success_timestamp_seconds")
                           .Help("When the last successful GLOBALS backup finished")
                           .Register(*registry_)),
      basebackup_success_(prometheus::BuildGauge()
                              .Name("pgship_basebackup_last_success_timestamp_seconds")
                              .Help("When the last complete base backup finished (its WAL "
                                    "durable on the receiver); 0: none yet")
                              .Register(*registry_)
                              .Add({})),
      basebackup_size_(prometheus::BuildGauge()
                           .Name("pgship_basebackup_last_size_bytes")
                           .Help("Stored bytes of the last complete base backup")
                           .Register(*registry_)
                           .Add({})),
      pitr_status_(prometheus::BuildGauge()
                       .Name("pgship_pitr_drill_last_status")
                       .Help("1 when the last point-in-time recovery drill succeeded, 0 when it "
                             "failed")
                       .Register(*registry_)),
      pitr_success_(prometheus::BuildGauge()
                        .Name("pgship_pitr_drill_last_success_timestamp_seconds")
                        .Help("When the last successful PITR drill finished; 0: none yet")
                        .Register(*registry_)),
      pitr_duration_(prometheus::BuildGauge()
                         .Name("pgship_pitr_drill_duration_seconds")
                         .Help("Seconds the last successful PITR drill took from the start of "
                               "the download to a writable server (the measured RTO)")
                         .Register(*registry_)),
      pitr_recovered_to_(prometheus::BuildGauge()
                             .Name("pgship_pitr_drill_recovered_to_timestamp_seconds")
                             .Help("The moment the last successful PITR drill recovered to, as "
                                   "PostgreSQL reported it")
                             .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("pgship_build_info")
      .Help("Always 1; the version as a label")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
  if (legacy) legacy_ = std::make_unique<legacy_metrics>(*registry_);
  // Every database's series exist from the start, so alerts see 0 rather than nothing.
  for (const auto& db : databases) {
    for (const char* result : {"ok", "failed"})
      runs_.Add({{"database", db}, {"result", result}});
    last_status_.Add({{"database", db}});
    unshipped_.Add({{"database", db}});
    last_local_.Add({{"database", db}});
  }
}

agent_metrics::~agent_metrics() = default;

void agent_metrics::run_started() {
  in_progress_.Set(1);
}

void agent_metrics::run_finished(const run_record& run) {
  in_progress_.Set(0);
  if (run.kind == "drill") {
    drill_finished(run);
    return;
  }
  if (run.kind == "pitr_drill") {
    for (const auto& d : run.databases) {
      if (!counts_as_backup_result(d.error)) continue;
      const double seconds = d.drill ? d.drill->recovery_seconds : run.seconds();
      pitr_drill_known(!d.error, run.finished, seconds, d.drill ? d.drill->recovered_to_ms : 0);
    }
    return;
  }
  // A base backup's entry (pgdata) is no database's backup, whatever the databases are called.
  if (run.kind == "basebackup") {
    for (const auto& d : run.databases) {
      if (!d.error) basebackup_known(run.finished, d.size);
    }
    return;
  }
  if (legacy_) legacy_->run_finished(run);
  for (const auto& d : run.databases) {
    if (d.archive) {
      if (!d.error) archive_size_.Add({{"archive", d.database}}).Set(static_cast<double>(d.size));
      continue;
    }
    // Series of their own: the globals' would pass for a database called globals.
    if (d.globals) {
      if (counts_as_backup_result(d.error)) {
        globals_known(!d.error, d.error ? std::nullopt : std::optional(run.finished));
      }
      continue;
    }
    runs_.Add({{"database", d.database}, {"result", std::string(result_name(d.error))}})
        .Increment();
    if (!counts_as_backup_result(d.error)) continue;
    last_status_.Add({{"database", d.database}}).Set(d.error ? 0 : 1);
    if (d.database_size > 0) {
      database_size_.Add({{"database", d.database}}).Set(static_cast<double>(d.database_size));
    }
    for (const auto& s : d.stages)
      stage_duration_.Add({{"stage", s.name}}, stage_buckets).Observe(s.seconds);
    upload_bytes_.Increment(static_cast<double>(d.upload.bytes_sent));
    upload_retries_.Increment(d.upload.retries);
    upload_resumes_.Increment(d.upload.resumes);
    if (!d.error) {
      last_success(d.database, run.finished);
      last_size_.Add({{"database", d.database}}).Set(static_cast<double>(d.size));
      local_backups_.Add({{"database", d.database}}).Set(d.local_backups);
    }
  }
}

void agent_metrics::drill_finished(const run_record& run) {
  for (const auto& d : run.databases) {
    if (d.database.empty()) continue;  // refused before it knew which
    drill_runs_.Add({{"database", d.database}, {"result", std::string(result_name(d.error))}})
        .Increment();
    if (!counts_as_backup_result(d.error)) continue;
    drill_last_status_.Add({{"database", d.database}}).Set(d.error ? 0 : 1);
    if (d.drill) {
      drill_mismatches_.Add({{"database", d.database}})
          .Set(static_cast<double>(d.drill->mismatches.size()));
      if (d.drill->recovery_seconds > 0) {
        drill_duration_.Add({{"database", d.database}}).Set(d.drill->recovery_seconds);
      }
    }
    if (!d.error) {
      drill_last_success_.Add({{"database", d.database}}).Set(seconds_since_epoch(run.finished));
    }
  }
}

void agent_metrics::backup_known(const std::string& database, bool ok) {
  last_status_.Add({{"database", database}}).Set(ok ? 1 : 0);
}

void agent_metrics::globals_known(bool ok,
                                  std::optional<std::chrono::system_clock::time_point> at) {
  globals_status_.Add({}).Set(ok ? 1 : 0);
  if (!ok || !at) return;
  auto& g = globals_success_.Add({});
  const double seconds = std::chrono::duration<double>(at->time_since_epoch()).count();
  if (seconds > g.Value()) g.Set(seconds);
}

void agent_metrics::basebackup_known(std::chrono::system_clock::time_point at,
                                     std::optional<std::uint64_t> size) {
  const double seconds = std::chrono::duration<double>(at.time_since_epoch()).count();
  if (seconds < basebackup_success_.Value()) return;
  basebackup_success_.Set(seconds);
  if (size) basebackup_size_.Set(static_cast<double>(*size));
}

void agent_metrics::pitr_drill_known(bool ok, std::chrono::system_clock::time_point at,
                                     double seconds, std::int64_t recovered_to_ms) {
  pitr_status_.Add({}).Set(ok ? 1 : 0);
  if (!ok) return;
  pitr_success_.Add({}).Set(std::chrono::duration<double>(at.time_since_epoch()).count());
  pitr_duration_.Add({}).Set(seconds);
  if (recovered_to_ms > 0)
    pitr_recovered_to_.Add({}).Set(static_cast<double>(recovered_to_ms) / 1000);
}

void agent_metrics::pitr_drills_scheduled() {
  pitr_success_.Add({});
}

void agent_metrics::drill_known(const std::string& database, bool ok,
                                std::optional<std::chrono::system_clock::time_point> last_success) {
  drill_last_status_.Add({{"database", database}}).Set(ok ? 1 : 0);
  if (last_success) {
    drill_last_success_.Add({{"database", database}}).Set(seconds_since_epoch(*last_success));
  }
}

void agent_metrics::skipped() {
  skipped_.Increment();
}

void agent_metrics::webhook_delivery(std::string_view result) {
  webhook_deliveries_.Add({{"result", std::string(result)}}).Increment();
}

void agent_metrics::next_run(std::chrono::system_clock::time_point at) {
  next_run_.Set(seconds_since_epoch(at));
}

void agent_metrics::last_success(const std::string& database,
                                 std::chrono::system_clock::time_point at) {
  {
    std::lock_guard lock(mutex_);
    auto [known, fresh] = last_success_at_.try_emplace(database, at);
    if (!fresh && known->second >= at) return;
    known->second = at;
  }
  last_success_.Add({{"database", database}}).Set(seconds_since_epoch(at));
  if (legacy_) legacy_->last_success(database, at);
}

void agent_metrics::local_backups_known(const std::string& database,
                                        const local_backup_summary& local) {
  unshipped_.Add({{"database", database}}).Set(local.unshipped);
  if (local.newest)
    last_local_.Add({{"database", database}}).Set(seconds_since_epoch(*local.newest));
  if (local.newest_shipped) last_success(database, *local.newest_shipped);
}

void agent_metrics::repo_size(std::uint64_t bytes) {
  if (legacy_) legacy_->repo_size(bytes);
}

void agent_metrics::write_textfile(const std::filesystem::path& path) {
  if (const auto ec = fs::write_file_atomically(path, render_metrics(*registry_))) {
    log::write(spdlog::level::warn,
               "cannot write METRICS_TEXTFILE " + path.string() + ": " + ec.message(), {});
  }
}

void agent_metrics::wal_known(const wal_metric_values& v) {
  std::lock_guard lock(mutex_);
  if (!wal_) wal_ = std::make_unique<wal_series>(*age_registry_);
  wal_->up.Set(v.up ? 1 : 0);
  wal_->server.Set(v.server_lsn);
  wal_->received.Set(v.received_lsn);
  wal_->durable.Set(v.durable_lsn);
  wal_->lag_bytes.Set(v.lag_bytes);
  wal_->lag_seconds.Set(v.lag_seconds);
  if (v.slot_retained_bytes) wal_->slot_retained.Add({}).Set(*v.slot_retained_bytes);
  // The stream's count starts again with a new ship queue (another system): a counter only
  // grows, so it takes in what is new since then.
  if (v.segments_shipped < wal_->shipped_seen) wal_->shipped_seen = 0;
  wal_->shipped.Increment(static_cast<double>(v.segments_shipped - wal_->shipped_seen));
  wal_->shipped_seen = v.segments_shipped;
}

std::string agent_metrics::render(std::chrono::system_clock::time_point now) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& [db, at] : last_success_at_) {
      success_age_.Add({{"database", db}}).Set(std::chrono::duration<double>(now - at).count());
    }
  }
  return render_metrics(*registry_) + render_metrics(*age_registry_);
}

}  // namespace pgship::agent
