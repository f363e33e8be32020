#include "pipeline/pitr_plan.hpp"
#include <chrono>
#include <cstdio>

#include <pgship/common/time_text.hpp>

namespace pgship::agent {

namespace {

using namespace std::chrono;

std::string utc_text_ms(std::int64_t unix_ms) {
  return format_utc(system_clock::time_point(milliseconds(unix_ms)), true);
}

// "2026-03-01 12:00:00.250000+00": how PostgreSQL reads recovery_target_time, in UTC whatever
// the server's zone.
std::string postgres_time(std::int64_t unix_us) {
  const sys_time<microseconds> t{microseconds(unix_us)};
  const auto secs = floor<seconds>(t);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d.%06d+00", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>((t - secs).count()));
  return buf;
}

// The end of the archive's newest contiguous WAL: where a recovery to an LSN can reach.
std::optional<wal::lsn> archive_end(const wire::wal::archive_state& state) {
  if (state.timelines.empty() || state.timelines.back().ranges.empty()) return std::nullopt;
  return state.timelines.back().ranges.back().to;
}

}  // namespace

std::optional<pitr_target> parse_pitr_target(std::string_view text, std::string& why) {
  pitr_target t;
  t.text = std::string(text);
  if (text == "latest") return t;
  if (const auto lsn = wal::parse_lsn(text)) {
    t.what = pitr_target::kind::lsn;
    t.lsn = *lsn;
    return t;
  }
  if (const auto at = parse_rfc3339(text)) {
    t.what = pitr_target::kind::time;
    t.unix_us = at->time_since_epoch().count();
    return t;
  }
  why = "--at \"" + std::string(text) +
        "\" is not latest, an LSN (0/16B3748) or an RFC 3339 time with its offset "
        "(2026-03-01T12:00:00Z, 2026-03-01 13:00:00+01:00)";
  return std::nullopt;
}

std::string describe_window(const wire::wal::pitr_window& window) {
  return utc_text_ms(window.oldest_ms) + " to " + utc_text_ms(window.newest_ms);
}

std::optional<wire::wal::basebackup_mark> choose_base_backup(const wire::wal::archive_state& state,
                                                             const pitr_target& target,
                                                             std::string& why) {
  const auto& backups = state.basebackups;  // oldest stop first
  if (backups.empty()) {
    why = "the archive of system " + state.system +
          " has no complete base backup: nothing can be recovered from it yet";
    return std::nullopt;
  }
  switch (target.what) {
    case pitr_target::kind::latest:
      return backups.back();
    case pitr_target::kind::time: {
      if (!state.pitr) {
        why = "the archive of system " + state.system + " has no PITR window";
        return std::nullopt;
      }
      const auto window = "the PITR window is " + describe_window(*state.pitr);
      const auto at_ms = target.unix_us / 1000;
      if (at_ms < state.pitr->oldest_ms) {
        why = target.text + " is before the oldest usable base backup's end; " + window;
        return std::nullopt;
      }
      if (target.unix_us > state.pitr->newest_ms * 1000 + 999) {
        why = target.text + " is after the newest WAL in the archive; " + window;
        return std::nullopt;
      }
      for (auto it = backups.rbegin(); it != backups.rend(); ++it)
        if (it->stop_time_ms * 1000 <= target.unix_us) return *it;
      why = target.text + " is before the oldest usable base backup's end; " + window;
      return std::nullopt;
    }
    case pitr_target::kind::lsn: {
      const auto end = archive_end(state);
      if (end && target.lsn > *end) {
        why = target.text + " is past the archive's end (" + wal::format_lsn(*end) + ")";
        return std::nullopt;
      }
      for (auto it = backups.rbegin(); it != backups.rend(); ++it)
        if (it->stop_lsn <= target.lsn) return *it;
      why = target.text + " is before the oldest base backup's stop position (" +
            wal::format_lsn(backups.front().stop_lsn) + ")";
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string recovery_settings(const pitr_target& target, const std::string& restore_command) {
  // restore_command is ours: paths without a quote. Doubling quotes keeps that a non-issue.
  std::string quoted;
  for (const char c : restore_command) {
    quoted += c;
    if (c == '\'') quoted += '\'';
  }
  std::string out = "# restore --pitr --at " + target.text + "\n";
  out += "restore_command = '" + quoted + "'\n";
  out += "recovery_target_timeline = 'latest'\n";
  switch (target.what) {
    case pitr_target::kind::latest:
      break;
    case pitr_target::kind::lsn:
      out += "recovery_target_lsn = '" + wal::format_lsn(target.lsn) + "'\n";
      break;
    case pitr_target::kind::time:
      out += "recovery_target_time = '" + postgres_time(target.unix_us) + "'\n";
      break;
  }
  if (target.what != pitr_target::kind::latest) out += "recovery_target_action = 'promote'\n";
  return out;
}

}  // namespace pgship::agent
