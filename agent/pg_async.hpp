#pragma once
// A libpq connection driven from the agent's io_context instead of a thread per blocking call:
// the WAL stream keeps one open for days, next to the control API on the same thread. libpq
// does the protocol; the waits for its socket (readable, writable, or either, as libpq's
// nonblocking rules ask) are Asio waits on a descriptor over PQsocket, which Asio never closes.
//
// Every wait honours the awaiting operation's cancellation slot: a COPY read raced against a
// timer (make_parallel_group ... wait_for_one) ends with errc::cancelled and leaves the
// connection usable; an exec cancelled half-way closes it (its protocol state is unknown).
// Messages carry the server's words, never the password.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "pg_connection.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// One result of a statement, values as text.
struct pg_table {
  enum class state { command_ok, tuples_ok, copy_both, copy_in, copy_out, empty, other };
  state status = state::other;
  std::string command;  // the command tag ("CREATE_REPLICATION_SLOT", "SELECT 1")
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;  // nullopt: NULL
};

struct pg_async_options {
  /// A walsender connection (replication=true): replication commands, COPY BOTH.
  bool replication = false;
  std::chrono::milliseconds connect_timeout{10000};
  /// As pg_stat_activity and pg_stat_replication show the connection.
  std::string application_name = "pgship-agent";
};

class pg_async {
 public:
  using clock = std::chrono::steady_clock;

  explicit pg_async(boost::asio::any_io_executor ex);
  ~pg_async();
  pg_async(const pg_async&) = delete;
  pg_async& operator=(const pg_async&) = delete;

  /// Resolves the host with Asio, then PQconnectStartParams and PQconnectPoll to the end or
  /// the timeout. Failures are classified as pg_connection's are (database_auth_failed,
  /// database_unreachable, database_missing); errc::cancelled when cancelled.
  boost::asio::awaitable<stage_error> connect(pg_login login, pg_async_options options);
  bool is_open() const;

  /// Sends `sql` (one or more statements, or one replication command) and collects every
  /// result; stops at a COPY result, which leaves the connection in that COPY. A statement's
  /// error fails with the server's message (its SQLSTATE in last_sqlstate()).
  boost::asio::awaitable<stage_error> exec(
      std::string sql, std::vector<pg_table>& out,
      std::chrono::milliseconds timeout = std::chrono::seconds(60));

  enum class copy_read { message, would_block, ended, failed };
  /// One COPY message if libpq has one (reading what the socket holds, never waiting):
  /// `message` holds it; `ended` once the server ended its side of the COPY.
  copy_read try_read_copy(std::string& message, stage_error& error);
  /// Returns once the socket (or TLS's buffer) has bytes to read; errc::cancelled when cancelled.
  boost::asio::awaitable<stage_error> wait_readable();
  /// try_read_copy, waiting for the socket while there is nothing: a message, ended (`ended`
  /// true) or an error.
  boost::asio::awaitable<stage_error> read_copy(std::string& message, bool& ended);
  /// Queues one COPY message and flushes it, waiting (read or write, as libpq's rules say)
  /// up to `timeout` while the server does not take it.
  boost::asio::awaitable<stage_error> write_copy(
      std::span<const std::byte> message,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Ends the COPY from our side, discards what the server still sends until it ends its side
  /// too, and collects the results that follow (a timeline's end, the command's completion).
  boost::asio::awaitable<stage_error> end_copy(
      std::vector<pg_table>& out, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// The SQLSTATE of the last failed statement ("42710"), empty when there was none.
  const std::string& last_sqlstate() const { return sqlstate_; }
  /// libpq's PQserverVersion (150004), 0 when not connected.
  int server_version_num() const;
  /// Ends the waits in progress now, as their cancellation slots would (errc::cancelled): for
  /// a stop that comes from outside the awaiting coroutine.
  void cancel();
  /// Releases the descriptor (without closing libpq's socket) and closes the connection.
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string sqlstate_;
};

}  // namespace pgship::agent
