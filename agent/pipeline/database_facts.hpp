#pragma once
// What a backup's manifest records about the dumped database besides its rows: its extensions
// with their versions, and TimescaleDB's hypertables, chunks and jobs. Read in the dump's own
// snapshot when there is one, so they describe what the archive holds.

#include <optional>
#include <string>
#include <vector>

#include "pg_connection.hpp"
#include "repository/manifest.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct database_facts {
  std::vector<extension_version> extensions;
  std::optional<timescaledb_facts> timescaledb;
};

/// Reads the facts over `conn` (blocking).
stage_error read_database_facts(pg_connection& conn, database_facts& out);

/// The installed version of extension `name` in the database `conn` is on, or nullopt.
std::optional<std::string> installed_extension(pg_connection& conn, std::string_view name,
                                               stage_error& error);

}  // namespace pgship::agent
