#pragma once
// Rate, ETA and stalls of a run's live progress, from one sample a second: the arithmetic of
// progress_watch, apart from its timer and terminal so that it can be tested with made-up
// clocks.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "pipeline/run_control.hpp"

namespace pgship::agent {

struct progress_view {
  std::string database;
  std::string stage;
  std::uint64_t bytes = 0;
  std::uint64_t total = 0;  // 0: unknown
  double bytes_per_second = 0;
  /// With a total the bytes have not passed yet, once a rate is known.
  std::optional<double> eta_seconds;
  double stage_seconds = 0;
};

/// A stage that made no progress for a while, as the log and the run's record say it.
struct stall_note {
  std::string database;
  std::string stage;
  double seconds = 0;  // without a byte when noticed
  std::uint64_t bytes = 0;
};

class progress_meter {
 public:
  using clock = std::chrono::steady_clock;

  explicit progress_meter(std::chrono::seconds stall_after = std::chrono::seconds(60));

  /// The progress as it is at `now`; a new stage (or database) starts the rate afresh, from
  /// its first sample (no rate until the second).
  progress_view sample(const live_progress& p, clock::time_point now);

  /// After sample(): set once per quiet spell, when a stage that counts bytes (it has a total,
  /// or counted some) has counted none for `stall_after`. Stages without a byte counter
  /// (recovery replaying WAL, counting rows) are never called stalled.
  const std::optional<stall_note>& stalled() const { return stalled_; }

  /// The rate is taken over this much of the recent past, so a pause shows soon and one
  /// burst does not swing the ETA.
  static constexpr auto window = std::chrono::seconds(10);

 private:
  struct point {
    clock::time_point at;
    std::uint64_t bytes;
  };
  std::chrono::seconds stall_after_;
  std::string database_;
  std::string stage_;
  clock::time_point stage_started_{};
  std::deque<point> recent_;
  clock::time_point last_change_{};
  bool stall_reported_ = false;
  std::optional<stall_note> stalled_;
};

/// "312.4 MiB", "1.2 GiB", "512 B".
std::string format_size(std::uint64_t bytes);
/// "0:07", "12:30", "1:02:03".
std::string format_duration(double seconds);

}  // namespace pgship::agent
