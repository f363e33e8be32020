#include "pg_connection.hpp"
#include <array>
#include <utility>

#include <libpq-fe.h>

namespace pgship::agent {

std::string libpq_reason(const char* text) {
  std::string s = text == nullptr ? "" : text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  // libpq puts a "connection to server at ... failed: " prefix before the reason; the reason
  // is what an operator needs, the prefix names host and port, which we add ourselves.
  const auto colon = s.find("failed: ");
  if (colon != std::string::npos && s.starts_with("connection to server")) s.erase(0, colon + 8);
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

errc classify_connect_failure(const std::string& message) {
  if (message.find("password authentication failed") != std::string::npos ||
      message.find("no password supplied") != std::string::npos ||
      message.find("authentication failed") != std::string::npos ||
      message.find("no pg_hba.conf entry") != std::string::npos) {
    return errc::database_auth_failed;
  }
  if (message.find("database \"") != std::string::npos &&
      message.find("does not exist") != std::string::npos) {
    return errc::database_missing;
  }
  return errc::database_unreachable;
}

pg_connection pg_connection::open(const pg_login& login, stage_error& error) {
  const std::string port = std::to_string(login.port);
  const std::array<const char*, 9> keys = {"host",
                                           "port",
                                           "user",
                                           "password",
                                           "dbname",
                                           "connect_timeout",
                                           "application_name",
                                           login.replication ? "replication" : nullptr,
                                           nullptr};
  const std::array<const char*, 9> values = {
      login.host.c_str(),
      port.c_str(),
      login.user.c_str(),
      login.password.empty() ? nullptr : login.password.c_str(),
      login.database.c_str(),
      "10",
      "pgship-agent",
      "true",
      nullptr};
  ::pg_conn* c = PQconnectdbParams(keys.data(), values.data(), 0);
  if (c == nullptr) {
    error = fail(errc::internal, "libpq could not allocate a connection");
    return pg_connection(nullptr);
  }
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string why = libpq_reason(PQerrorMessage(c));
    PQfinish(c);
    const std::string what = login.replication
                                 ? std::string("cannot open a replication connection")
                                 : "cannot connect to database \"" + login.database + "\"";
    error = fail(classify_connect_failure(why),
                 what + " at " + login.host + ":" + port + " as \"" + login.user + "\": " + why);
    return pg_connection(nullptr);
  }
  error = {};
  return pg_connection(c);
}

pg_connection::pg_connection(pg_connection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)) {}

pg_connection& pg_connection::operator=(pg_connection&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
  }
  return *this;
}

pg_connection::~pg_connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

int pg_connection::server_version_num() const {
  return conn_ == nullptr ? 0 : PQserverVersion(conn_);
}

std::optional<std::string> pg_connection::query_value(std::string_view sql, stage_error& error) {
  const std::string text(sql);
  PGresult* r = PQexec(conn_, text.c_str());
  std::optional<std::string> value;
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    value = PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)
                ? std::string(PQgetvalue(r, 0, 0))
                : std::string();
    error = {};
  } else {
    error =
        fail(errc::database_unreachable, "query failed: " + libpq_reason(PQerrorMessage(conn_)));
  }
  PQclear(r);
  return value;
}

std::optional<std::vector<std::vector<std::string>>> pg_connection::query_rows(std::string_view sql,
                                                                               stage_error& error) {
  const std::string text(sql);
  PGresult* r = PQexec(conn_, text.c_str());
  std::optional<std::vector<std::vector<std::string>>> rows;
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    rows.emplace();
    for (int i = 0; i < PQntuples(r); ++i) {
      auto& row = rows->emplace_back();
      for (int j = 0; j < PQnfields(r); ++j)
        row.emplace_back(PQgetisnull(r, i, j) ? "" : PQgetvalue(r, i, j));
    }
    error = {};
  } else {
    error =
        fail(errc::database_unreachable, "query failed: " + libpq_reason(PQerrorMessage(conn_)));
  }
  PQclear(r);
  return rows;
}

std::function<void()> pg_connection::canceller() const {
  if (conn_ == nullptr) return [] {};
  std::shared_ptr<PGcancel> cancel(PQgetCancel(conn_), [](PGcancel* c) {
    if (c != nullptr) PQfreeCancel(c);
  });
  return [cancel] {
    if (!cancel) return;
    char why[256];
    PQcancel(cancel.get(), why, sizeof why);
  };
}

stage_error pg_connection::execute(std::string_view sql) {
  const std::string text(sql);
  PGresult* r = PQexec(conn_, text.c_str());
  stage_error error;
  const auto status = PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    error = fail(errc::database_unreachable, libpq_reason(PQerrorMessage(conn_)));
  }
  PQclear(r);
  return error;
}

std::string pg_connection::quote_identifier(std::string_view name) const {
  char* quoted = PQescapeIdentifier(conn_, name.data(), name.size());
  std::string out = quoted == nullptr ? std::string() : std::string(quoted);
  PQfreemem(quoted);
  return out;
}

std::string pg_connection::quote_literal(std::string_view text) const {
  char* quoted = PQescapeLiteral(conn_, text.data(), text.size());
  std::string out = quoted == nullptr ? std::string() : std::string(quoted);
  PQfreemem(quoted);
  return out;
}

std::string version_text(int v) {
  if (v >= 100000) return std::to_string(v / 10000) + "." + std::to_string(v % 10000);
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100);
}

int major_version(int version_num) {
  return version_num / 10000;
}

}  // namespace pgship::agent
