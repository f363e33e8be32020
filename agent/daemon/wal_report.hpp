#pragma once
// The WAL stream's status as the daemon shows it: GET /api/v1/wal, the `wal` part of /health
// and its verdict, the pgship_wal_* metrics.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include <pgship/common/events/event.hpp>

#include "daemon/agent_metrics.hpp"
#include "wal/wal_stream.hpp"

namespace pgship::agent {

/// How long the stream may be down before /health turns 503.
inline constexpr std::chrono::seconds wal_down_limit{30};

boost::json::object wal_status_json(const wal::wal_status& status);
wal_metric_values wal_metrics_of(const wal::wal_status& status);
/// Why /health fails for the stream (down past wal_down_limit, lag past WAL_MAX_LAG); empty
/// when it is healthy.
std::vector<std::string> wal_problems(const wal::wal_status& status,
                                      std::chrono::milliseconds max_lag);

/// wal.lag when the stream starts lagging past WAL_MAX_LAG or stays down past wal_down_limit,
/// wal.caught_up when it is well again: one event per change of state, none while it stays.
class wal_lag_events {
 public:
  /// `resolve_at_start`: a first healthy look sends wal.caught_up too, so that an
  /// Alertmanager alert fired before a restart does not stay for its whole lifetime.
  explicit wal_lag_events(bool resolve_at_start = false) : resolve_at_start_(resolve_at_start) {}

  std::optional<events::event> next(const wal::wal_status& status,
                                    std::chrono::milliseconds max_lag);

 private:
  bool resolve_at_start_;
  std::optional<bool> lagging_;  // unknown until the first look
};

}  // namespace pgship::agent
