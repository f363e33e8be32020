#pragma once
// `pgship-receiver retention [--dry-run] [--now TIME [--force]] [--client NAME]`: for each client,
// what each rule keeps (newest, day, week, month, PITR window, the WAL of a kept base backup) and
// what goes; without --dry-run the same plan is then carried out. The running server applies
// the same plan after each commit and hourly.

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>

#include "state/settings.hpp"

namespace pgship::receiver {

struct retention_request {
  bool dry_run = false;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  std::optional<std::string> client;  // all clients when unset
  bool force = false;  // carry out a plan made for a future --now (it takes what today needs)
};

/// Prints the plan to `out`; 0 when everything planned was deleted (or nothing was asked), 1
/// when a listing or a deletion failed (said on `err`). Throws config_error when no rule is set.
int run_retention_command(const settings& s, const retention_request& request, std::ostream& out,
                          std::ostream& err);

}  // namespace pgship::receiver
