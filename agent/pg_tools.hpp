#pragma once
// Finding pg_dump and pg_restore: a pg_dump can dump servers of its own major version and
// older, so the one chosen must be at least as new as the server.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "stage_error.hpp"

namespace pgship::agent {

struct pg_tool {
  std::filesystem::path path;
  int major = 0;
  std::string version;  // "15.18"
};

struct pg_toolset {
  pg_tool dump;
  pg_tool restore;
};

/// Parses `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` into {major, "15.18"}.
std::optional<std::pair<int, std::string>> parse_tool_version(std::string_view text);

/// Where to look, in order: PG_DUMP_PATH alone when set; else
/// `<root>/<server_major>/bin/pg_dump`, then newer majors under `root` (newest first), then
/// `pg_dump` on PATH. Only existing files are returned.
std::vector<std::filesystem::path> pg_dump_candidates(
    const std::optional<std::filesystem::path>& configured, int server_major,
    const std::filesystem::path& root = "/usr/lib/postgresql");

/// Runs `<program> --version`; nullopt when it does not run or prints something else.
boost::asio::awaitable<std::optional<pg_tool>> probe_tool(std::filesystem::path program);

/// `name` (pg_dumpall, pg_basebackup) beside `pg_dump`, else on PATH, of pg_dump's major
/// version or newer: pg_dump_not_found otherwise, saying it is needed for `needed_for`
/// ("GLOBALS=on", "base backups").
boost::asio::awaitable<stage_error> find_tool_beside(const pg_tool& pg_dump, std::string name,
                                                     std::string needed_for, pg_tool& out);

/// Picks pg_dump (major >= server_major) and the pg_restore beside it (or on PATH).
/// Fails with pg_dump_not_found or pg_dump_version_mismatch naming both versions.
boost::asio::awaitable<stage_error> choose_tools(std::optional<std::filesystem::path> configured,
                                                 int server_major, pg_toolset& tools);

}  // namespace pgship::agent
