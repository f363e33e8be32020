#include "timescaledb.hpp"
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace pgship::test {
namespace stdfs = std::filesystem;

namespace {

const stdfs::path pg_lib = "/usr/lib/postgresql/15/lib";
const stdfs::path pg_share = "/usr/share/postgresql/15";

std::string literal(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::uint64_t number(const std::string& text) {
  return text.empty() ? 0 : std::stoull(text);
}

// 0755 on a directory this process made, so the postgres user (when running as root) can use it.
void open_up(const stdfs::path& dir) {
  stdfs::permissions(dir, stdfs::perms::owner_all | stdfs::perms::group_read |
                              stdfs::perms::group_exec | stdfs::perms::others_read |
                              stdfs::perms::others_exec);
}

void make_dirs(const stdfs::path& root, const stdfs::path& below) {
  auto at = root;
  for (const auto& part : below) {
    at /= part;
    stdfs::create_directories(at);
    open_up(at);
  }
}

}  // namespace

std::string timescaledb_missing() {
  const std::string v(timescaledb_version);
  for (const auto& file :
       {pg_share / "extension" / "timescaledb.control",
        pg_share / "extension" / ("timescaledb--" + v + ".sql"), pg_lib / "timescaledb.so",
        pg_lib / ("timescaledb-" + v + ".so"), pg_lib / ("timescaledb-tsl-" + v + ".so")}) {
    std::error_code ec;
    if (!stdfs::exists(file, ec)) {
      return "TimescaleDB " + v + " is not installed for PostgreSQL 15 (" + file.string() +
             " is missing): tests/support/timescaledb/install-timescaledb.sh builds it from "
             "../shared/vendor/timescaledb-" +
             v + ".tar.gz (tests/run.sh runs it; without the tarball it cannot)";
    }
  }
  return "";
}

bool running_under_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

pg_cluster_options timescaledb_cluster_options(std::vector<std::string> extra) {
  pg_cluster_options o;
  o.settings = {"shared_preload_libraries = 'timescaledb'", "timescaledb.telemetry_level = off",
                // A scheduler per database with TimescaleDB (sources, restored copies, scratch
                // copies) plus the jobs they run at once.
                "max_worker_processes = 48", "timescaledb.max_background_workers = 40",
                // New and restored databases get their scheduler within a second.
                "timescaledb.bgw_launcher_poll_time = 1000",
                // TimescaleDB's advice: a restore in one transaction locks every chunk.
                "max_locks_per_transaction = 256"};
  o.settings.insert(o.settings.end(), extra.begin(), extra.end());
  return o;
}

pg_cluster& timescaledb_cluster() {
  static pg_cluster instance(timescaledb_cluster_options());
  return instance;
}

void load_timescaledb_fixture(pg_cluster& pg, const std::string& name,
                              const timescaledb_fixture_options& options) {
  pg.drop_database(name);
  pg.create_database(name);
  for (const auto& step : timescaledb_fixture_sql(options))
    pg.execute(name, step);
}

timescaledb_other_version_server::timescaledb_other_version_server(const std::string& offered) {
  open_up(dir_.path());
  const auto root = dir_.path() / "usr";
  // The layout of the Debian package, so the relative paths PostgreSQL derives from its binary
  // (../lib, ../../../../share/postgresql/15) land in this copy.
  const stdfs::path bin_below = "usr/lib/postgresql/15/bin";
  make_dirs(dir_.path(), bin_below);
  make_dirs(dir_.path(), "usr/lib/postgresql/15/lib");
  make_dirs(dir_.path(), "usr/share/postgresql/15/extension");
  const auto bin = dir_.path() / bin_below;
  // Copies, not links: PostgreSQL resolves links to find its installation.
  for (const char* program : {"postgres", "initdb", "pg_ctl"}) {
    stdfs::copy_file(stdfs::path("/usr/lib/postgresql/15/bin") / program, bin / program);
    stdfs::permissions(bin / program, stdfs::perms::owner_all | stdfs::perms::group_read |
                                          stdfs::perms::group_exec | stdfs::perms::others_read |
                                          stdfs::perms::others_exec);
  }
  for (const auto& entry : stdfs::directory_iterator(pg_lib))
    stdfs::create_symlink(entry.path(), root / "lib/postgresql/15/lib" / entry.path().filename());
  const auto share = root / "share/postgresql/15";
  for (const auto& entry : stdfs::directory_iterator(pg_share)) {
    if (entry.path().filename() != "extension")
      stdfs::create_symlink(entry.path(), share / entry.path().filename());
  }
  for (const auto& entry : stdfs::directory_iterator(pg_share / "extension")) {
    if (!entry.path().filename().string().starts_with("timescaledb"))
      stdfs::create_symlink(entry.path(), share / "extension" / entry.path().filename());
  }
  write_file(share / "extension" / "timescaledb.control",
             "comment = 'pgship test stub: TimescaleDB " + offered + " by name only'\n" +
                 "default_version = '" + offered + "'\nmodule_pathname = '$libdir/timescaledb-" +
                 offered + "'\nrelocatable = false\n");
  write_file(share / "extension" / ("timescaledb--" + offered + ".sql"),
             "DO $$ BEGIN RAISE EXCEPTION 'pgship test stub: this server offers TimescaleDB " +
                 offered + " by name only'; END $$;\n");
  auto options = timescaledb_cluster_options();
  options.bin_dir = bin;
  cluster_ = std::make_unique<pg_cluster>(options);
}

std::map<std::string, std::uint64_t> exact_counts(pg_cluster& pg, const std::string& database,
                                                  const std::vector<timescaledb_relation>& of) {
  std::map<std::string, std::uint64_t> out;
  for (const auto& r : of) {
    out[r.qualified()] = number(
        pg.query_value(database, "SELECT count(*) FROM \"" + r.schema + "\".\"" + r.name + "\""));
  }
  return out;
}

std::uint64_t compressed_chunks(pg_cluster& pg, const std::string& database) {
  return number(pg.query_value(
      database, "SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed"));
}

std::string jobs_signature(pg_cluster& pg, const std::string& database) {
  return pg.query_value(
      database,
      "SELECT coalesce(string_agg(ROW(job_id, application_name, schedule_interval, max_runtime, "
      "max_retries, retry_period, proc_schema, proc_name, owner, scheduled, fixed_schedule, "
      "config, hypertable_schema, hypertable_name, check_schema, check_name, initial_start)::text,"
      " E'\\n' ORDER BY job_id), '') FROM timescaledb_information.jobs");
}

std::uint64_t job_runs(pg_cluster& pg, const std::string& database) {
  return number(pg.query_value(
      database, "SELECT coalesce(sum(total_runs), 0) FROM timescaledb_information.job_stats"));
}

bool database_exists(pg_cluster& pg, const std::string& name) {
  return pg.query_value("postgres",
                        "SELECT count(*) FROM pg_database WHERE datname = " + literal(name)) != "0";
}

std::string installed_timescaledb(pg_cluster& pg, const std::string& database) {
  return pg.query_value(database,
                        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'");
}

}  // namespace pgship::test
