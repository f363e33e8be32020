#include "state/metrics.hpp"

#include "state/wal_index.hpp"
#include "storage/spool.hpp"
#include "storage/storage.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver {

receiver_metrics::receiver_metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      uploads_(prometheus::BuildCounter()
                   .Name("pgship_receiver_uploads_total")
                   .Help("Finished uploads by client and result")
                   .Register(*registry_)),
      bytes_(prometheus::BuildCounter()
                 .Name("pgship_receiver_bytes_received_total")
                 .Help("Upload body bytes written to disk, by client")
                 .Register(*registry_)),
      backups_(prometheus::BuildGauge()
                   .Name("pgship_receiver_backups")
                   .Help("Committed backups stored, by client")
                   .Register(*registry_)),
      stored_bytes_(prometheus::BuildGauge()
                        .Name("pgship_receiver_stored_bytes")
                        .Help("Bytes of committed backups stored, by client")
                        .Register(*registry_)),
      wal_bytes_(prometheus::BuildGauge()
                     .Name("pgship_receiver_wal_bytes")
                     .Help("Bytes of the physical archive (WAL units, history files) stored, by "
                           "client")
                     .Register(*registry_)),
      free_bytes_(prometheus::BuildGauge()
                      .Name("pgship_receiver_storage_free_bytes")
                      .Help("Free bytes on the storage file system")
                      .Register(*registry_)
                      .Add({})),
      requests_(prometheus::BuildCounter()
                    .Name("pgship_receiver_http_requests_total")
                    .Help("HTTP requests by method and status code")
                    .Register(*registry_)),
      webhook_deliveries_(prometheus::BuildCounter()
                              .Name("pgship_webhook_deliveries_total")
                              .Help("Webhook deliveries by result (delivered, retried, dropped)")
                              .Register(*registry_)),
      duration_(prometheus::BuildHistogram()
                    .Name("pgship_receiver_request_duration_seconds")
                    .Help("HTTP request duration, header read to response sent")
                    .Register(*registry_)
                    .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.025, 0.1, 0.5, 1, 5,
                                                                     30, 120, 600, 3600})),
      auth_failures_(prometheus::BuildCounter()
                         .Name("pgship_receiver_auth_failures_total")
                         .Help("Requests refused for a missing, wrong or under-scoped token")
                         .Register(*registry_)
                         .Add({})),
      corrupt_backups_(prometheus::BuildGauge()
                           .Name("pgship_receiver_corrupt_backups")
                           .Help("Backups a scrub found corrupt, moved to .quarantine/")
                           .Register(*registry_)
                           .Add({})),
      scrub_bytes_(prometheus::BuildCounter()
                       .Name("pgship_receiver_scrub_bytes_total")
                       .Help("Bytes of stored backups re-read and hashed by scrubs")
                       .Register(*registry_)
                       .Add({})),
      scrub_completed_(prometheus::BuildGauge()
                           .Name("pgship_receiver_scrub_last_completed_timestamp_seconds")
                           .Help("When the last scrub of every stored backup completed")
                           .Register(*registry_)
                           .Add({})),
      rate_limited_(prometheus::BuildCounter()
                        .Name("pgship_receiver_rate_limited_total")
                        .Help("Requests and connections refused by a limit, by reason")
                        .Register(*registry_)),
      wal_gaps_(prometheus::BuildGauge()
                    .Name("pgship_receiver_wal_gaps")
                    .Help("Gaps recorded in the physical archive (WAL the server lost) after "
                          "the newest complete base backup, by client")
                    .Register(*registry_)),
      pitr_oldest_(prometheus::BuildGauge()
                       .Name("pgship_receiver_pitr_oldest_timestamp_seconds")
                       .Help("Oldest recovery target time the physical archive can reach (0: no "
                             "complete base backup), by client")
                       .Register(*registry_)),
      pitr_newest_(prometheus::BuildGauge()
                       .Name("pgship_receiver_pitr_newest_timestamp_seconds")
                       .Help("Newest recovery target time the physical archive can reach (0: no "
                             "complete base backup), by client")
                       .Register(*registry_)) {
  for (const auto* reason : rate_limit_reasons)
    rate_limited_.Add({{"reason", reason}});
}

void receiver_metrics::register_clients(const std::vector<std::string>& clients) {
  // Every series an alert or a dashboard reads exists from start-up, at zero.
  for (const auto& client : clients) {
    for (const auto* result : upload_results)
      uploads_.Add({{"client", client}, {"result", result}});
    bytes_.Add({{"client", client}});
    backups_.Add({{"client", client}});
    stored_bytes_.Add({{"client", client}});
    wal_bytes_.Add({{"client", client}});
    wal_gaps_.Add({{"client", client}});
  }
  std::lock_guard lock(clients_mutex_);
  clients_ = clients;
}

void receiver_metrics::refresh_wal(const wal_store& archive, wal_index& index) {
  std::vector<std::string> clients;
  {
    std::lock_guard lock(clients_mutex_);
    clients = clients_;
  }
  for (const auto& client : clients) {
    const auto summary = index.summary(archive, client);
    if (!summary) continue;  // the gauges keep their last values
    wal_gaps_.Add({{"client", client}}).Set(static_cast<double>(summary->limiting_gaps));
    if (!summary->has_archive) continue;
    const auto seconds = [](std::int64_t unix_ms) { return static_cast<double>(unix_ms) / 1000; };
    pitr_oldest_.Add({{"client", client}})
        .Set(summary->pitr ? seconds(summary->pitr->oldest_ms) : 0);
    pitr_newest_.Add({{"client", client}})
        .Set(summary->pitr ? seconds(summary->pitr->newest_ms) : 0);
  }
}

void receiver_metrics::webhook_delivery(std::string_view result) {
  webhook_deliveries_.Add({{"result", std::string(result)}}).Increment();
}

void receiver_metrics::rate_limited(std::string_view reason) {
  rate_limited_.Add({{"reason", std::string(reason)}}).Increment();
}

void receiver_metrics::upload_finished(const std::string& client, std::string_view result) {
  uploads_.Add({{"client", client}, {"result", std::string(result)}}).Increment();
}

void receiver_metrics::bytes_received(const std::string& client, std::uint64_t n) {
  bytes_.Add({{"client", client}}).Increment(static_cast<double>(n));
}

void receiver_metrics::auth_failed() {
  auth_failures_.Increment();
}

void receiver_metrics::request(std::string_view method, unsigned status, double seconds) {
  requests_.Add({{"method", std::string(method)}, {"code", std::to_string(status)}}).Increment();
  duration_.Observe(seconds);
}

void receiver_metrics::refresh(storage& store, const spool& incoming) {
  for (const auto& [client, usage] : store.usage()) {
    stored_bytes_.Add({{"client", client}}).Set(static_cast<double>(usage.first));
    backups_.Add({{"client", client}}).Set(static_cast<double>(usage.second));
  }
  if (const auto* archive = store.wal()) {
    for (const auto& [client, bytes] : archive->usage())
      wal_bytes_.Add({{"client", client}}).Set(static_cast<double>(bytes));
  }
  if (auto free = incoming.free_bytes()) free_bytes_.Set(static_cast<double>(*free));
  corrupt_backups_.Set(static_cast<double>(store.quarantined()));
}

void receiver_metrics::scrub_bytes(std::uint64_t n) {
  scrub_bytes_.Increment(static_cast<double>(n));
}

void receiver_metrics::scrub_completed(std::chrono::system_clock::time_point at) {
  scrub_completed_.Set(std::chrono::duration<double>(at.time_since_epoch()).count());
}

}  // namespace pgship::receiver
