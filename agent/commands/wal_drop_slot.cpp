// `pgship-agent wal drop-slot`: decommissioning. Drops WAL_SLOT so the server stops keeping
// WAL for a stream that will not come back.

#include <iostream>

#include "commands/commands.hpp"
#include "wal/server_facts.hpp"

namespace pgship::agent {

int command_wal_drop_slot(const settings& cfg) {
  wal::drop_outcome outcome;
  if (const auto error = wal::drop_slot(cfg, outcome)) {
    std::cerr << "pgship-agent: cannot drop replication slot " << cfg.wal_slot << ": "
              << error.message << "\n";
    return error.code.value();
  }
  switch (outcome.result) {
    case wal::drop_outcome::kind::absent:
      std::cout << "no replication slot " << cfg.wal_slot << " on the server: nothing to drop\n";
      return 0;
    case wal::drop_outcome::kind::active:
      std::cerr << "pgship-agent: replication slot " << cfg.wal_slot
                << " is in use by a stream: stop the daemon first (PID " << outcome.active_pid
                << ", the stream's walsender on the server)\n";
      return static_cast<int>(errc::run_in_progress);
    case wal::drop_outcome::kind::dropped:
      std::cout << "dropped replication slot " << cfg.wal_slot
                << ": the server no longer keeps WAL for the stream\n";
      if (cfg.wal_stream) {
        std::cout << "note: WAL_STREAM=on here; a daemon started with this configuration "
                     "creates the slot again\n";
      }
      return 0;
  }
  return static_cast<int>(errc::internal);
}

}  // namespace pgship::agent
