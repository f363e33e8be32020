#pragma once
// `restore --pitr --start`: PostgreSQL started on the prepared data directory, listening only
// on a socket in the directory beside it (the cluster's own port and addresses may be those of
// a server that still runs), and waited for until recovery reached its target and promoted.

#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "child_process.hpp"
#include "pg_tools.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct recovery_outcome {
  std::string said;  // PostgreSQL's own line on where recovery stopped
  std::string port;  // the socket's port (the cluster's own setting)
};

/// The server options of restore --pitr --start: no TCP, a socket in `socket_dir` only.
std::string restore_listen(const std::filesystem::path& socket_dir);

/// pg_ctl (beside `tools.dump`) starts the server with `server_options` (postgres -o), its log
/// in `socket_dir`/server.log; then waits until PostgreSQL removed recovery.signal (it does when
/// it promotes) and reports "ready". restore_failed with the server log's last FATAL or PANIC
/// line when it stops first; cancelled (the server stopped) when `child` is killed.
boost::asio::awaitable<stage_error> start_recovery(const pg_toolset& tools,
                                                   const std::filesystem::path& dir,
                                                   const std::filesystem::path& socket_dir,
                                                   const std::string& server_options,
                                                   recovery_outcome& out,
                                                   std::shared_ptr<child_handle> child = nullptr);

/// Stops a server started on `dir` (pg_ctl stop, fast, then immediate); nothing when none runs.
boost::asio::awaitable<void> stop_server(const pg_toolset& tools, const std::filesystem::path& dir);

}  // namespace pgship::agent
