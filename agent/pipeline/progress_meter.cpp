#include "pipeline/progress_meter.hpp"
#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

namespace pgship::agent {

progress_meter::progress_meter(std::chrono::seconds stall_after) : stall_after_(stall_after) {}

progress_view progress_meter::sample(const live_progress& p, clock::time_point now) {
  if (p.database != database_ || p.stage != stage_ || p.stage_started != stage_started_) {
    database_ = p.database;
    stage_ = p.stage;
    stage_started_ = p.stage_started;
    // The rate starts from the first sample: a stage may start at an offset (an upload
    // resumed where the receiver stands), which is not progress made since it began.
    recent_.clear();
    recent_.push_back({now, p.bytes});
    last_change_ = p.bytes > 0 ? now : p.stage_started;
    stall_reported_ = false;
  } else if (p.bytes != recent_.back().bytes) {
    last_change_ = now;
    stall_reported_ = false;
  }
  if (recent_.back().at != now) recent_.push_back({now, p.bytes});
  // Keep one point at or before the window's start, so the rate spans the whole window.
  while (recent_.size() > 2 && recent_[1].at <= now - window)
    recent_.pop_front();

  progress_view v;
  v.database = p.database;
  v.stage = p.stage;
  v.bytes = p.bytes;
  v.total = p.total;
  v.stage_seconds = std::chrono::duration<double>(now - p.stage_started).count();
  const auto& first = recent_.front();
  const double span = std::chrono::duration<double>(now - first.at).count();
  if (span > 0 && p.bytes >= first.bytes)
    v.bytes_per_second = static_cast<double>(p.bytes - first.bytes) / span;
  if (p.total > p.bytes && v.bytes_per_second > 0)
    v.eta_seconds = static_cast<double>(p.total - p.bytes) / v.bytes_per_second;

  stalled_.reset();
  const bool counts_bytes = p.total > 0 || p.bytes > 0;
  if (counts_bytes && !stall_reported_ && now - last_change_ >= stall_after_) {
    stall_reported_ = true;
    stalled_ = stall_note{p.database, p.stage,
                          std::chrono::duration<double>(now - last_change_).count(), p.bytes};
  }
  return v;
}

std::string format_size(std::uint64_t bytes) {
  constexpr std::array<const char*, 5> units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < units.size()) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, units[unit]);
}

std::string format_duration(double seconds) {
  const auto total = static_cast<long long>(std::llround(std::max(seconds, 0.0)));
  const long long h = total / 3600;
  const long long m = total / 60 % 60;
  const long long s = total % 60;
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
  return fmt::format("{}:{:02}", m, s);
}

}  // namespace pgship::agent
