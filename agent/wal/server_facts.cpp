#include "wal/server_facts.hpp"
#include <cctype>

#include "pg_connection.hpp"

namespace pgship::agent::wal {

using pgship::wal::parse_lsn;

namespace {

pg_login replication_login(const settings& cfg) {
  return {cfg.postgres_host,        cfg.postgres_port, cfg.replication_user,
          cfg.replication_password, "replication",     true};
}

}  // namespace

stage_error identify_system(const settings& cfg, server_identity& out) {
  stage_error error;
  auto conn = pg_connection::open(replication_login(cfg), error);
  if (error) return error;
  const auto rows = conn.query_rows("IDENTIFY_SYSTEM", error);
  if (!rows) return error;
  if (rows->empty() || (*rows)[0].size() < 3) {
    return fail(errc::replication_unavailable, "IDENTIFY_SYSTEM answered no row");
  }
  const auto& row = (*rows)[0];
  const auto flush = parse_lsn(row[2]);
  if (row[0].empty() || !flush) {
    return fail(errc::replication_unavailable,
                "IDENTIFY_SYSTEM answered an unreadable row (" + row[0] + ", " + row[2] + ")");
  }
  out.system = row[0];
  out.timeline = static_cast<pgship::wal::timeline_id>(std::stoul(row[1]));
  out.flush = *flush;
  return {};
}

stage_error read_slot(const settings& cfg, slot_facts& out) {
  stage_error error;
  auto conn = pg_connection::open(
      {cfg.postgres_host, cfg.postgres_port, cfg.postgres_user, cfg.postgres_password,
       cfg.databases.empty() ? "postgres" : cfg.databases.front()},
      error);
  if (error) return error;
  // One row whether the slot exists or not: the position comes along.
  const auto rows = conn.query_rows(
      "SELECT coalesce(s.slot_type, ''), coalesce(s.wal_status, ''), coalesce(s.active, false), "
      "coalesce(s.active_pid::text, ''), coalesce(s.restart_lsn::text, ''), "
      "coalesce(c.at::text, '') FROM (SELECT CASE WHEN pg_is_in_recovery() THEN "
      "pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END AS at) c LEFT JOIN "
      "pg_replication_slots s ON s.slot_name = " +
          conn.quote_literal(cfg.wal_slot),
      error);
  if (!rows) return error;
  if (rows->empty()) return fail(errc::database_unreachable, "pg_replication_slots: no row");
  const auto& row = (*rows)[0];
  out.exists = !row[0].empty();
  out.type = row[0];
  out.wal_status = row[1];
  out.active = row[2] == "t";
  out.active_pid = row[3];
  out.restart_lsn = parse_lsn(row[4]);
  out.current_lsn = parse_lsn(row[5]).value_or(0);
  return {};
}

std::string active_pid_in(const std::string& message) {
  const std::string marker = "is active for PID ";
  const auto at = message.find(marker);
  if (at == std::string::npos) return {};
  std::string pid;
  for (auto i = at + marker.size();
       i < message.size() && std::isdigit(static_cast<unsigned char>(message[i])); ++i)
    pid += message[i];
  return pid;
}

stage_error drop_slot(const settings& cfg, drop_outcome& out) {
  stage_error error;
  auto conn = pg_connection::open(replication_login(cfg), error);
  if (error) return error;
  // WAL_SLOT is validated as [a-z0-9_]{1,63}; quoted all the same.
  error = conn.execute("DROP_REPLICATION_SLOT " + conn.quote_identifier(cfg.wal_slot));
  if (!error) {
    out.result = drop_outcome::kind::dropped;
    return {};
  }
  if (error.message.find("does not exist") != std::string::npos) {
    out.result = drop_outcome::kind::absent;
    return {};
  }
  if (auto pid = active_pid_in(error.message); !pid.empty()) {
    out.result = drop_outcome::kind::active;
    out.active_pid = std::move(pid);
    return {};
  }
  error.code = make_error_code(errc::replication_unavailable);
  return error;
}

}  // namespace pgship::agent::wal
