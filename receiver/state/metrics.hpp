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
  void request(std::string_view method, unsigned status, double seconds);
  /// Refreshes the gauges that mirror storage state (per-client bytes and counts, the physical
  /// archive's bytes, free space, backups in quarantine).
  void refresh(storage& store, const spool& incoming);
  /// pgship_receiver_wal_gaps{client}: gaps recorded in each registered client's physical
  /// archive (until base backups are marked complete, every recorded gap counts).
  void refresh_wal(const wal_store& archive);
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
  prometheus::Histogram& duration_;
  prometheus::Counter& auth_failures_;
  prometheus::Gauge& corrupt_backups_;
  prometheus::Counter& scrub_bytes_;
  prometheus::Gauge& scrub_completed_;
  prometheus::Family<prometheus::Counter>& rate_limited_;
  prometheus::Family<prometheus::Gauge>& wal_gaps_;
  std::mutex clients_mutex_;  // register_clients runs again on SIGHUP
  std::vector<std::string> clients_;
};

}  // namespace pgship::receiver
