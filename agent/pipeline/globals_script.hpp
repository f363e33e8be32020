#pragma once
// Reading the script `pg_dumpall --globals-only` writes (pure functions, no I/O): whether it is
// complete, which roles it holds, and which of its statements to apply to a server that
// already has some of its roles or tablespaces. Those are left exactly as they are: every
// statement about them (CREATE/ALTER ROLE, COMMENT ON, SECURITY LABEL, a GRANT to them) is
// skipped. The script is applied over libpq, so psql's meta-commands (`\restrict`,
// `\unrestrict`) are dropped; any other one is refused.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgship::agent {

/// pg_dumpall's last lines: a script that does not end so was cut short.
inline constexpr std::string_view globals_trailer = "-- PostgreSQL database cluster dump complete";

/// Whether `tail` (the end of the script) ends with pg_dumpall's trailer comment.
bool globals_script_complete(std::string_view tail);

/// `CREATE ROLE name;` → "name" (a quoted identifier unquoted); empty when `line` is not one.
std::string created_role(std::string_view line);

/// One SQL statement of the script, with its terminating ';'.
struct globals_statement {
  std::string text;
  enum class subject { none, role, tablespace } about = subject::none;
  std::string name;  // the role or tablespace it is about
};

struct globals_parse {
  std::vector<globals_statement> statements;
  std::string problem;  // set: not a script this agent applies (an unknown meta-command ...)
};

/// Splits the script into statements (comments and `\restrict` lines dropped) and names what
/// each is about.
globals_parse parse_globals_script(std::string_view script);

/// What to run on a server that has `existing_roles` and `existing_tablespaces`.
struct globals_plan {
  std::vector<std::string> statements;
  std::vector<std::string> kept_roles;  // in the script and already there: left as they were
  std::vector<std::string> kept_tablespaces;
  bool creates_tablespace = false;  // CREATE TABLESPACE cannot run inside a transaction
};

globals_plan plan_globals(const std::vector<globals_statement>& statements,
                          const std::vector<std::string>& existing_roles,
                          const std::vector<std::string>& existing_tablespaces);

/// The start of a statement for an error message, with a role's password never shown.
std::string describe_statement(std::string_view statement, std::size_t max = 80);

}  // namespace pgship::agent
