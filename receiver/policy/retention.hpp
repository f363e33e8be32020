#pragma once
// Server-side retention: GFS per client, kind and database (KEEP_DAYS/WEEKS/MONTHS) and the
// point-in-time window (PITR_KEEP_DAYS) for base backups and WAL, as policy/retention_plan.hpp
// decides. A pass runs after each commit, hourly, and as `pgship-receiver retention`; nothing
// runs while APPEND_ONLY is on.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "policy/retention_plan.hpp"
#include "state/context.hpp"

namespace pgship::receiver {

/// The settings' rules; `enabled` says whether any is set.
retention_settings retention_rules(const settings& s);
bool retention_enabled(const retention_settings& rules);

/// What `client` holds: each system's marks, segments and gaps, then the backups (so a mark
/// whose backup is missing from the listing is one whose backup is gone).
result<client_holdings> gather_holdings(storage& store, const std::string& client);

/// What one pass deleted, and what it could not.
struct retention_outcome {
  std::uint64_t backups = 0, segments = 0, marks = 0, gaps = 0;
  std::vector<std::string> failures;  // "what: why"
};

/// Deletes what `plan` says (backups, then marks, WAL segments and gaps), logging each, going
/// on past a failure; the index of every system that changed is read again.
retention_outcome apply_plan(storage& store, wal_index& index, const client_retention_plan& plan);

/// One pass for `client` (no-op when off or APPEND_ONLY): plan at `now`, apply.
void apply_retention_now(receiver_context& ctx, const std::string& client,
                         std::chrono::system_clock::time_point now);
/// apply_retention_now on a storage thread, now.
net::awaitable<void> apply_retention(receiver_context& ctx, const std::string& client);

/// The archive's usage counted and its index listed again (hourly, SIGHUP): what
/// `pgship-receiver retention` deleted beside the server leaves its quota, state, window and
/// /metrics. Blocking: a storage thread.
void reread_wal_index(receiver_context& ctx);

/// Every client the store holds backups or WAL of.
std::vector<std::string> stored_clients(storage& store);

}  // namespace pgship::receiver
