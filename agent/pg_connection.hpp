#pragma once
// A libpq connection for the agent's own questions (server version, database size, whether a
// restore target is empty). Connection failures are classified into the error catalogue; the
// password never appears in a message.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stage_error.hpp"

struct pg_conn;

namespace pgship::agent {

struct pg_login {
  std::string host;
  int port = 5432;
  std::string user;
  std::string password;
  std::string database;
  /// A physical replication connection (replication=true): only replication commands.
  bool replication = false;
};

class pg_connection {
 public:
  /// Connects (10 s timeout). On failure, `error` says why and the connection is not usable.
  static pg_connection open(const pg_login& login, stage_error& error);

  pg_connection(pg_connection&&) noexcept;
  pg_connection& operator=(pg_connection&&) noexcept;
  ~pg_connection();

  bool is_open() const { return conn_ != nullptr; }
  /// The server's version number (150004 for 15.4).
  int server_version_num() const;
  /// The first column of the first row as text; nullopt (and `error`) when the query fails.
  std::optional<std::string> query_value(std::string_view sql, stage_error& error);
  /// Every row, every column as text (NULL as ""); nullopt (and `error`) when it fails.
  std::optional<std::vector<std::vector<std::string>>> query_rows(std::string_view sql,
                                                                  stage_error& error);
  /// Runs one statement without results.
  stage_error execute(std::string_view sql);
  /// A function that asks the server to cancel what this connection runs at the time it is
  /// called; made now, callable from any thread while another one uses the connection.
  std::function<void()> canceller() const;
  /// `name` quoted as an SQL identifier.
  std::string quote_identifier(std::string_view name) const;
  /// `text` quoted as an SQL string literal.
  std::string quote_literal(std::string_view text) const;

 private:
  explicit pg_connection(::pg_conn* c) : conn_(c) {}
  ::pg_conn* conn_ = nullptr;
};

/// The reason in a libpq error message: its first line, without libpq's "connection to
/// server at ... failed: " prefix.
std::string libpq_reason(const char* text);
/// database_auth_failed, database_missing or database_unreachable for a connection failure's
/// reason.
errc classify_connect_failure(const std::string& reason);

/// "15.4" from 150004 (and "9.6.24" from 90624).
std::string version_text(int version_num);
/// 15 from 150004, 9 from 90624 (the old two-part majors count as their first part: pg_dump
/// compatibility only needs the first).
int major_version(int version_num);

}  // namespace pgship::agent
