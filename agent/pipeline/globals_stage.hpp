#pragma once
// GLOBALS: the cluster's roles and tablespaces (pg_dumpall --globals-only, connected through
// `via`, a database of POSTGRES_DB), committed, uploaded with the earlier ones still
// unshipped, and rotated like a database's dumps: a kind of its own (`.sql`).

#include <string>

#include <boost/asio/awaitable.hpp>

#include "pipeline/backup_context.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

boost::asio::awaitable<stage_error> backup_globals(backup_context& ctx, const std::string& via);

}  // namespace pgship::agent
