#pragma once
// What the `wal` commands ask PostgreSQL directly, over blocking libpq (one-shot commands
// only): the cluster's identity over a replication connection as REPLICATION_USER, the
// stream's slot as pg_replication_slots shows it, and dropping that slot.

#include <optional>
#include <string>

#include <pgship/common/wal/wal_names.hpp>

#include "settings.hpp"
#include "stage_error.hpp"

namespace pgship::agent::wal {

/// IDENTIFY_SYSTEM's answer.
struct server_identity {
  std::string system;  // system identifier, decimal
  pgship::wal::timeline_id timeline = 0;
  pgship::wal::lsn flush = 0;  // the server's flushed end of WAL
};
stage_error identify_system(const settings& cfg, server_identity& out);

/// WAL_SLOT's row of pg_replication_slots, with the server's current position, read on a
/// normal connection as POSTGRES_USER.
struct slot_facts {
  bool exists = false;
  std::string type;        // physical, logical
  std::string wal_status;  // reserved, extended, unreserved, lost ("" when NULL)
  bool active = false;
  std::string active_pid;  // the walsender's PID on the server ("" when inactive)
  std::optional<pgship::wal::lsn> restart_lsn;
  pgship::wal::lsn current_lsn = 0;  // pg_current_wal_lsn() (receive LSN on a standby)
};
stage_error read_slot(const settings& cfg, slot_facts& out);

/// DROP_REPLICATION_SLOT for WAL_SLOT over a replication connection.
struct drop_outcome {
  enum class kind { dropped, absent, active } result = kind::dropped;
  std::string active_pid;  // for active: the walsender holding it
};
stage_error drop_slot(const settings& cfg, drop_outcome& out);

/// "1234" from PostgreSQL's `replication slot "s" is active for PID 1234`; "" when absent.
std::string active_pid_in(const std::string& message);

}  // namespace pgship::agent::wal
