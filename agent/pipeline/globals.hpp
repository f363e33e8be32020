#pragma once
// GLOBALS: what no database's dump holds (roles, their memberships and settings, tablespaces),
// as `pg_dumpall --globals-only` writes it, stored as `globals-<stamp>.sql[.zst][.age]`
// through the same chain as a dump (pg_dumpall's bytes → hash (plain) → [zstd] → [age] →
// hash (stored) → file). Role passwords are in it only when the agent's role may read
// pg_authid; otherwise pg_dumpall runs with --no-role-passwords and the log says so. The
// script is verified as it passes: pg_dumpall exited 0 and it ends with the "dump complete"
// trailer; the stored bytes are hashed as written, as a dump's are.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>
#include <pgship/common/sha256.hpp>

#include "child_process.hpp"
#include "pg_connection.hpp"
#include "pg_tools.hpp"
#include "pipeline/output_file.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct globals_request {
  pg_login login;  // the server; `database`: one the role may connect to
  pg_tool pg_dumpall;
  std::filesystem::path output;  // created; must not exist
  io::stored_format format;
  io::codec_settings codec;
  std::shared_ptr<child_handle> handle;
  log::context log;
};

/// The sums' plain bytes are the script itself.
struct globals_output : stored_sums {
  bool role_passwords = false;     // pg_authid was readable: the script sets them
  std::vector<std::string> roles;  // the roles the script creates, in its order
};

/// pg_dumpall beside `pg_dump` (or on PATH), of pg_dump's major version or newer:
/// pg_dump_not_found otherwise.
boost::asio::awaitable<stage_error> find_pg_dumpall(const pg_tool& pg_dump, pg_tool& out);

/// Writes the globals file (fsynced). On failure it is removed: dump_failed (pg_dumpall
/// failed), verify_failed (the script lacks its trailer), database_* (the password check),
/// local_io_failed / disk_full, cancelled.
boost::asio::awaitable<stage_error> run_globals(const globals_request& request,
                                                globals_output& out);

}  // namespace pgship::agent
