#pragma once
// `restore --pitr --start`: PostgreSQL started on the prepared data directory, listening only
// on a socket in the directory beside it (the cluster's own port and addresses may be those of
// a server that still runs), and waited for until recovery reached its target and promoted.

#include <filesystem>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "pg_tools.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct recovery_outcome {
  std::string said;  // PostgreSQL's own line on where recovery stopped
  std::string port;  // the socket's port (the cluster's own setting)
};

/// pg_ctl (beside `tools.dump`) starts the server; then waits until PostgreSQL removed
/// recovery.signal (it does when it promotes) and reports "ready". restore_failed with the
/// server log's last FATAL line when it stops first.
boost::asio::awaitable<stage_error> start_recovery(const pg_toolset& tools,
                                                   const std::filesystem::path& dir,
                                                   const std::filesystem::path& socket_dir,
                                                   recovery_outcome& out);

}  // namespace pgship::agent
