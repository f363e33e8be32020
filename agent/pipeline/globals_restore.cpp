#include "pipeline/globals_restore.hpp"

#include "pipeline/globals_script.hpp"

namespace pgship::agent {
namespace {

std::vector<std::string> first_column(pg_connection& conn, std::string_view sql,
                                      stage_error& error) {
  std::vector<std::string> out;
  const auto rows = conn.query_rows(sql, error);
  if (!rows) return out;
  for (const auto& row : *rows)
    if (!row.empty()) out.push_back(row.front());
  return out;
}

}  // namespace

stage_error apply_globals(const pg_login& login, std::string_view script, globals_applied& out) {
  const auto parsed = parse_globals_script(script);
  if (!parsed.problem.empty()) return fail(errc::restore_failed, parsed.problem);
  stage_error error;
  auto conn = pg_connection::open(login, error);
  if (error) return error;
  const auto roles = first_column(conn, "SELECT rolname FROM pg_catalog.pg_roles", error);
  if (error) return error;
  const auto tablespaces =
      first_column(conn, "SELECT spcname FROM pg_catalog.pg_tablespace", error);
  if (error) return error;
  const auto plan = plan_globals(parsed.statements, roles, tablespaces);
  out.kept_roles = plan.kept_roles;
  out.kept_tablespaces = plan.kept_tablespaces;

  // All or nothing, unless CREATE TABLESPACE forbids the transaction.
  const bool in_transaction = !plan.creates_tablespace;
  if (in_transaction) {
    if (auto begun = conn.execute("BEGIN")) return begun;
  }
  for (std::size_t i = 0; i < plan.statements.size(); ++i) {
    const auto& statement = plan.statements[i];
    if (auto failed = conn.execute(statement)) {
      if (in_transaction) (void)conn.execute("ROLLBACK");
      return fail(errc::restore_failed,
                  "statement " + std::to_string(i + 1) + " of " +
                      std::to_string(plan.statements.size()) + " (" +
                      describe_statement(statement) + ") failed: " + failed.message +
                      (in_transaction ? "; nothing of the globals was applied"
                                      : "; the statements before it stay applied"));
    }
    ++out.statements;
  }
  if (in_transaction) {
    if (auto committed = conn.execute("COMMIT")) {
      return fail(errc::restore_failed, "COMMIT of the globals failed: " + committed.message);
    }
  }
  return {};
}

}  // namespace pgship::agent
