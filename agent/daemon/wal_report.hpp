#pragma once
// The WAL stream's status as the daemon shows it: GET /api/v1/wal, the `wal` part of /health
// and its verdict, the pgship_wal_* metrics.

#include <chrono>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

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

}  // namespace pgship::agent
