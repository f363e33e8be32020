#include "daemon/wal_report.hpp"

#include <pgship/common/wal/wal_names.hpp>

namespace pgship::agent {

boost::json::object wal_status_json(const wal::wal_status& s) {
  using pgship::wal::format_lsn;
  boost::json::object o;
  o["up"] = s.up;
  o["system_id"] = s.system_id;
  o["timeline"] = s.timeline;
  o["slot"] = s.slot;
  o["server_lsn"] = format_lsn(s.server_lsn);
  o["received_lsn"] = format_lsn(s.received_lsn);
  o["durable_lsn"] = format_lsn(s.durable_lsn);
  o["lag_bytes"] = s.lag_bytes;
  o["lag_seconds"] = s.lag_seconds;
  o["segments_shipped"] = s.segments_shipped;
  o["queued_bytes"] = s.queued_bytes;
  o["gaps_recorded"] = s.gaps_recorded;
  if (s.slot_retained_bytes) o["slot_retained_bytes"] = *s.slot_retained_bytes;
  if (!s.slot_wal_status.empty()) o["slot_wal_status"] = s.slot_wal_status;
  if (!s.up) o["down_seconds"] = s.down_for.count();
  if (!s.last_error.empty()) o["last_error"] = s.last_error;
  return o;
}

wal_metric_values wal_metrics_of(const wal::wal_status& s) {
  wal_metric_values v;
  v.up = s.up;
  v.server_lsn = static_cast<double>(s.server_lsn);
  v.received_lsn = static_cast<double>(s.received_lsn);
  v.durable_lsn = static_cast<double>(s.durable_lsn);
  v.lag_bytes = static_cast<double>(s.lag_bytes);
  v.lag_seconds = s.lag_seconds;
  v.segments_shipped = s.segments_shipped;
  if (s.slot_retained_bytes) v.slot_retained_bytes = static_cast<double>(*s.slot_retained_bytes);
  return v;
}

std::vector<std::string> wal_problems(const wal::wal_status& s, std::chrono::milliseconds max_lag) {
  std::vector<std::string> out;
  if (!s.up && s.down_for > wal_down_limit) {
    out.push_back("WAL stream down for " + std::to_string(s.down_for.count()) + " s" +
                  (s.last_error.empty() ? std::string() : ": " + s.last_error));
  }
  const double limit = std::chrono::duration<double>(max_lag).count();
  if (s.lag_seconds > limit) {
    out.push_back("WAL lag " + std::to_string(static_cast<long long>(s.lag_seconds)) +
                  " s exceeds WAL_MAX_LAG (" + std::to_string(static_cast<long long>(limit)) +
                  " s)");
  }
  return out;
}

std::optional<events::event> wal_lag_events::next(const wal::wal_status& s,
                                                  std::chrono::milliseconds max_lag) {
  const auto problems = wal_problems(s, max_lag);
  const bool lagging = !problems.empty();
  const bool first = !lagging_;
  if (!first && *lagging_ == lagging) return std::nullopt;
  lagging_ = lagging;
  if (first && !lagging && !resolve_at_start_) return std::nullopt;
  auto e = events::make_event(lagging ? "wal.lag" : "wal.caught_up", "agent");
  e.result = lagging ? "lagging" : "ok";
  for (const auto& p : problems)
    e.message += (e.message.empty() ? "" : "; ") + p;
  e.details["system"] = s.system_id;
  e.details["lag_seconds"] = s.lag_seconds;
  e.details["lag_bytes"] = s.lag_bytes;
  e.details["up"] = s.up;
  return e;
}

}  // namespace pgship::agent
