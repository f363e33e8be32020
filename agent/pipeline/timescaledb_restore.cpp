#include "pipeline/timescaledb_restore.hpp"

namespace pgship::agent {
namespace {

// What follows "<dump id>; <tableoid> <oid> " on a line of pg_restore --list.
std::string_view entry_text(std::string_view line) {
  if (line.starts_with(";")) return {};  // a comment
  const auto semi = line.find("; ");
  if (semi == std::string_view::npos) return {};
  auto rest = line.substr(semi + 2);
  for (int field = 0; field < 2; ++field) {
    const auto space = rest.find(' ');
    if (space == std::string_view::npos) return {};
    rest = rest.substr(space + 1);
  }
  return rest;
}

// Rows, as opposed to the definitions of objects: 0 not rows, 1 rows of TimescaleDB's
// catalog and configuration, 2 any other rows (chunks, in `_timescaledb_internal`, too).
int rows_kind(std::string_view entry) {
  for (const std::string_view kind : {"TABLE DATA ", "SEQUENCE SET ", "BLOB", "LARGE OBJECT"}) {
    if (!entry.starts_with(kind)) continue;
    const auto rest = entry.substr(kind.size());
    return rest.starts_with("_timescaledb_catalog ") || rest.starts_with("_timescaledb_config ")
               ? 1
               : 2;
  }
  return 0;
}

}  // namespace

stage_error check_timescaledb_offered(pg_connection& admin, const std::string& version) {
  stage_error error;
  const auto offered = admin.query_value(
      "SELECT coalesce(string_agg(version, ', ' ORDER BY version), '') FROM "
      "pg_available_extension_versions WHERE name = 'timescaledb'",
      error);
  if (!offered) return error;
  const auto preload = admin.query_value("SHOW shared_preload_libraries", error);
  if (!preload) return error;
  bool has_version = false;
  for (std::string_view rest = *offered; !rest.empty();) {
    const auto comma = rest.find(", ");
    if (rest.substr(0, comma) == version) has_version = true;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
  }
  if (!has_version) {
    return fail(
        errc::restore_refused,
        "the backup needs TimescaleDB " + version + ", but the target server offers " +
            (offered->empty() ? std::string("no TimescaleDB") : "only TimescaleDB " + *offered) +
            " (HINT: install TimescaleDB " + version + " for this PostgreSQL there)");
  }
  if (preload->find("timescaledb") == std::string::npos) {
    return fail(errc::restore_refused,
                "the backup needs TimescaleDB " + version +
                    ", which the target server offers but does not preload (HINT: add "
                    "timescaledb to shared_preload_libraries and restart it)");
  }
  return {};
}

stage_error prepare_timescaledb_target(const pg_login& target, const std::string& version) {
  stage_error error;
  auto conn = pg_connection::open(target, error);
  if (error) return error;
  const auto there =
      conn.query_rows("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'", error);
  if (!there) return error;
  if (!there->empty() && there->front().front() != version) {
    return fail(errc::restore_refused, "the target database " + target.database +
                                           " has TimescaleDB " + there->front().front() +
                                           ", the backup needs " + version);
  }
  if (there->empty()) {
    // CREATE EXTENSION wakes TimescaleDB's launcher, whose new scheduler could run a job in the
    // moment before timescaledb_pre_restore(); one that starts with the database already in
    // restore mode exits at once instead (a drill's scratch copy runs no job, not even then).
    if (auto e = conn.execute("ALTER DATABASE " + conn.quote_identifier(target.database) +
                              " SET timescaledb.restoring = 'on'")) {
      return fail(errc::restore_failed,
                  "cannot put " + target.database + " in restore mode: " + e.message);
    }
    if (auto e =
            conn.execute("CREATE EXTENSION timescaledb VERSION " + conn.quote_literal(version))) {
      return fail(errc::restore_failed, "cannot create TimescaleDB " + version + " in " +
                                            target.database + ": " + e.message);
    }
  }
  if (!conn.query_value("SELECT timescaledb_pre_restore()", error)) {
    return fail(errc::restore_failed,
                "timescaledb_pre_restore() failed in " + target.database + ": " + error.message);
  }
  return {};
}

stage_error finish_timescaledb_target(const pg_login& target) {
  stage_error error;
  auto conn = pg_connection::open(target, error);
  if (error) return error;
  if (!conn.query_value("SELECT timescaledb_post_restore()", error)) {
    return fail(errc::restore_failed,
                "timescaledb_post_restore() failed in " + target.database + ": " + error.message);
  }
  return {};
}

stage_error release_kept_timescaledb_copy(const pg_login& target) {
  stage_error error;
  auto conn = pg_connection::open(target, error);
  if (error) return error;
  // Still in restore mode for the database: no scheduler runs there until post_restore, and
  // by then no job is scheduled.
  error = conn.execute("SET timescaledb.restoring = off");
  if (!error) {
    conn.query_rows(
        "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
        "WHERE scheduled",
        error);
  }
  if (error) {
    return fail(errc::restore_failed, "cannot unschedule the jobs of the kept copy " +
                                          target.database + ": " + error.message);
  }
  return finish_timescaledb_target(target);
}

timescaledb_toc split_timescaledb_toc(std::string_view listing) {
  timescaledb_toc out;
  while (!listing.empty()) {
    const auto nl = listing.find('\n');
    const auto line = listing.substr(0, nl);
    listing = nl == std::string_view::npos ? std::string_view() : listing.substr(nl + 1);
    const auto entry = entry_text(line);
    if (entry.empty()) continue;  // comments and blank lines
    if (entry.starts_with("EXTENSION - timescaledb ") ||
        entry.starts_with("COMMENT - EXTENSION timescaledb ")) {
      continue;
    }
    const std::string text = std::string(line) + "\n";
    const int rows = rows_kind(entry);
    out.all += text;
    if (rows != 2) out.first += text;
    if (rows != 1) out.second += text;
  }
  return out;
}

}  // namespace pgship::agent
