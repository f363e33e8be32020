#include "wal/replication_check.hpp"

#include <fmt/format.h>

#include "pg_connection.hpp"

namespace pgship::agent::wal {

namespace {

using level = check_finding::level;

struct findings {
  std::vector<check_finding> items;
  void add(level verdict, std::string item, std::string detail) {
    items.push_back({verdict, std::move(item), std::move(detail)});
  }
};

// The pg_hba.conf line a replication connection from this host needs: the address the server
// sees us at (the normal connection's), the method it uses for host connections.
std::string hba_line(pg_connection& conn, const std::string& user) {
  stage_error ignored;
  const auto address = conn.query_value("SELECT host(inet_client_addr())", ignored);
  const auto family = conn.query_value("SELECT family(inet_client_addr())", ignored);
  const std::string mask = family.value_or("4") == "6" ? "/128" : "/32";
  const std::string from =
      address && !address->empty() ? *address + mask : std::string("<agent's address>/32");
  return fmt::format("host replication {} {} scram-sha-256", user, from);
}

void check_role(pg_connection& conn, const settings& cfg, findings& out) {
  const std::string item = "role " + cfg.replication_user + " may replicate";
  stage_error error;
  const auto rows =
      conn.query_rows("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = " +
                          conn.quote_literal(cfg.replication_user),
                      error);
  if (!rows) return out.add(level::fail, item, error.message);
  if (rows->empty()) return out.add(level::fail, item, "no such role (REPLICATION_USER)");
  if ((*rows)[0][0] != "t")
    return out.add(level::fail, item,
                   "it lacks the REPLICATION attribute: ALTER ROLE " +
                       conn.quote_identifier(cfg.replication_user) + " REPLICATION;");
  out.add(level::pass, item, "REPLICATION");
}

void check_connection(pg_connection& conn, const settings& cfg, findings& out) {
  const std::string item = "replication connection as " + cfg.replication_user;
  stage_error error;
  auto replication =
      pg_connection::open({cfg.postgres_host, cfg.postgres_port, cfg.replication_user,
                           cfg.replication_password, "replication", true},
                          error);
  if (error) {
    if (error.message.find("no pg_hba.conf entry for replication connection") !=
        std::string::npos) {
      return out.add(level::fail, item,
                     "pg_hba.conf has no replication line for it: add \"" +
                         hba_line(conn, cfg.replication_user) +
                         "\" before any line that rejects it, then SELECT pg_reload_conf();");
    }
    return out.add(level::fail, item, error.message);
  }
  const auto system = replication.query_rows("IDENTIFY_SYSTEM", error);
  if (!system || system->empty()) return out.add(level::fail, item, error.message);
  out.add(level::pass, item, "system identifier " + (*system)[0][0]);
}

void check_settings(pg_connection& conn, const settings& cfg, findings& out) {
  stage_error error;
  const auto rows = conn.query_rows(
      "SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int - "
      "(SELECT count(*) FROM pg_stat_replication), current_setting('max_slot_wal_keep_size'), "
      "current_setting('synchronous_standby_names')",
      error);
  if (!rows || rows->empty()) return out.add(level::fail, "server settings", error.message);
  const int version = conn.server_version_num();
  if (major_version(version) < 15) {
    out.add(level::fail, "base backups",
            "PostgreSQL " + version_text(version) +
                ": the agent's BASE_BACKUP needs 15 or newer (the WAL it streams cannot be "
                "recovered without one)");
  } else {
    out.add(level::pass, "base backups", "PostgreSQL " + version_text(version));
  }
  const auto& row = (*rows)[0];
  if (row[0] == "minimal") {
    out.add(level::fail, "wal_level", "minimal: set wal_level = replica (needs a restart)");
  } else {
    out.add(level::pass, "wal_level", row[0]);
  }
  const int free_senders = std::stoi(row[1]);
  if (free_senders < 1) {
    out.add(level::fail, "free WAL senders",
            "none of max_wal_senders is free: raise it (needs a restart)");
  } else {
    out.add(level::pass, "free WAL senders", std::to_string(free_senders));
  }
  if (row[2] == "-1") {
    out.add(level::warn, "max_slot_wal_keep_size",
            "unset (-1): while the receiver is away the slot keeps WAL without limit and "
            "pg_wal can fill its disk. ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'; "
            "SELECT pg_reload_conf(); (no restart)");
  } else {
    out.add(level::pass, "max_slot_wal_keep_size", row[2]);
  }
  const auto& names = row[3];
  if (names.find('*') != std::string::npos || names.find("pgship-agent") != std::string::npos) {
    out.add(level::warn, "synchronous_standby_names",
            "\"" + names +
                "\" matches pgship-agent: commits would wait for the receiver. Name the "
                "standbys instead");
  }
  (void)cfg;
}

void check_slot(pg_connection& conn, const settings& cfg, findings& out) {
  const std::string item = "replication slot " + cfg.wal_slot;
  stage_error error;
  const auto rows = conn.query_rows(
      "SELECT slot_type, coalesce(wal_status, ''), active, coalesce(active_pid::text, ''), "
      "restart_lsn IS NULL FROM pg_replication_slots WHERE slot_name = " +
          conn.quote_literal(cfg.wal_slot),
      error);
  if (!rows) return out.add(level::fail, item, error.message);
  if (rows->empty())
    return out.add(level::note, item, "absent: the agent creates it (RESERVE_WAL) when it starts");
  const auto& row = (*rows)[0];
  if (row[0] != "physical")
    return out.add(level::fail, item,
                   "a " + row[0] + " slot: WAL_SLOT must name a physical slot (or a free name)");
  if (row[1] == "lost")
    return out.add(level::fail, item,
                   "lost: the server removed WAL the archive never got (past "
                   "max_slot_wal_keep_size). The next start records the gap, recreates the slot "
                   "and takes a base backup");
  if (row[4] == "t")
    return out.add(level::warn, item, "reserves no WAL yet (created without RESERVE_WAL)");
  if (row[2] == "t")
    return out.add(level::warn, item,
                   "in use by PID " + row[3] + " (a running agent, or another client)");
  out.add(level::pass, item, "physical, " + row[1]);
}

}  // namespace

std::vector<check_finding> check_replication(const settings& cfg) {
  findings out;
  stage_error error;
  auto conn = pg_connection::open(
      {cfg.postgres_host, cfg.postgres_port, cfg.postgres_user, cfg.postgres_password,
       cfg.databases.empty() ? "postgres" : cfg.databases.front()},
      error);
  if (error) {
    out.add(level::fail, "server for the WAL stream", error.message);
    return out.items;
  }
  check_settings(conn, cfg, out);
  check_role(conn, cfg, out);
  check_connection(conn, cfg, out);
  check_slot(conn, cfg, out);
  return out.items;
}

}  // namespace pgship::agent::wal
