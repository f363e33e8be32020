#pragma once
// The receiver's Prometheus metrics (names are part of the DESIGN.md contract). Thread-safe.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace pgship::receiver {

class storage;
class spool;
class wal_store;
class wal_index;

class receiver_metrics {
 public:
  receiver_metrics();

  prometheus::Registry& registry() { return *registry_; }

  static constexpr const char* upload_results[] = {"created",       "identical", "conflict",
                                                   "hash_mismatch", "rejected",  "failed"};
  static constexpr const char* rate_limit_reasons[] = {"rate", "auth_failures", "connections"};

  /// Creates each client's series at zero (the clients the tokens name).
  void register_clients(const std::vector<std::string>& clients);
  /// result: one of upload_results
  void upload_finished(const std::string& client, std::string_view result);
  /// reason: one of rate_limit_reasons
  void rate_limited(std::string_view reason);
  void bytes_received(const std::string& client, std::uint64_t n);
  void auth_failed();
  /// A webhook delivery's outcome (pgship_webhook_deliveries_total{result}).
  void webhook_delivery(std::string_view result);
  void request(std::string_view method, unsigned status, double seconds);
  /// Refreshes the gauges that mirror storage state (per-client bytes and counts, the physical
  /// archive's bytes, free space, backups in quarantine).
  void refresh(storage& store, const spool& incoming);
  /// From each registered client's physical archive (on a storage thread: the first call
  /// lists the archive): pgship_receiver_wal_gaps{client}, the recorded gaps after each
  /// system's newest complete base backup (those that limit recovery to latest), and the PITR
  /// window pgship_receiver_pitr_{oldest,newest}_timestamp_seconds{client} (only for clients
  /// with an archive; 0 while it has no complete base backup).
  void refresh_wal(const wal_store& archive, wal_index& index);
  void scrub_bytes(std::uint64_t n);
  void scrub_completed(std::chrono::system_clock::time_point at);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& uploads_;
  prometheus::Family<prometheus::Counter>& bytes_;
  prometheus::Family<prometheus::Gauge>& backups_;
  prometheus::Family<prometheus::Gauge>& stored_bytes_;
  prometheus::Family<prometheus::Gauge>& wal_bytes_;
  prometheus::Gauge& free_bytes_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& webhook_deliveries_;
  prometheus::Histogram& duration_;
  prometheus::Counter& auth_failures_;
  prometheus::Gauge& corrupt_backups_;
  prometheus::Counter& scrub_bytes_;
  prometheus::Gauge& scrub_completed_;
  prometheus::Family<prometheus::Counter>& rate_limited_;
  prometheus::Family<prometheus::Gauge>& wal_gaps_;
  prometheus::Family<prometheus::Gauge>& pitr_oldest_;
  prometheus::Family<prometheus::Gauge>& pitr_newest_;
  std::mutex clients_mutex_;  // register_clients runs again on SIGHUP
  std::vector<std::string> clients_;
};

}  // namespace pgship::receiver
