// Cron expressions from SCHEDULE: parse_cron, and for those that parse next_fire and
// longest_period from a fixed instant just before a DST change (TZ=Europe/Berlin), so the
// gap/repeat handling is on the path. Failures must say why; fires must lie ahead.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

#include "schedule/cron.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("TZ", "Europe/Berlin", 1);
  ::tzset();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace std::chrono;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto expr = pgship::agent::parse_cron(text, error);
  if (!expr) {
    if (error.empty()) __builtin_trap();
    return 0;
  }
  if (expr->months.none() || expr->hours.none() || expr->minutes.none() || expr->seconds.none()) {
    __builtin_trap();
  }

  // 2026-03-29 00:30:00 UTC: half an hour before Berlin skips 02:00-03:00 local.
  const system_clock::time_point from = sys_days{year{2026} / March / 29} + minutes(30);
  const auto fire = pgship::agent::next_fire(*expr, from);
  if (fire) {
    if (*fire <= from || floor<seconds>(*fire) != *fire) __builtin_trap();
    const auto after = pgship::agent::next_fire(*expr, *fire);
    if (after && *after <= *fire) __builtin_trap();
  }
  const auto period = pgship::agent::longest_period(*expr, from, 3);
  if (period && period->count() <= 0) __builtin_trap();
  if (period && !fire) __builtin_trap();
  return 0;
}
