#pragma once
// Server-side retention (KEEP_DAYS/WEEKS/MONTHS): after each commit and hourly, the backups of a
// client's database beyond the GFS set are removed, per kind, unless APPEND_ONLY is on.

#include <string>

#include <boost/asio/awaitable.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

/// Runs retention for one client's database after a commit (no-op when off or APPEND_ONLY).
net::awaitable<void> apply_retention(receiver_context& ctx, const std::string& client,
                                     const std::string& database);
/// apply_retention on the calling thread (a storage thread).
void apply_retention_now(receiver_context& ctx, const std::string& client,
                         const std::string& database);

}  // namespace pgship::receiver
