// pgship-agent: command-line entry. Parses the subcommand and shared options, loads and
// validates the configuration, then hands over to the command.

#include <algorithm>
#include <array>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/program_options/options_description.hpp>

#include <pgship/common/cli.hpp>
#include <pgship/common/errors.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/version.hpp>

#include "commands/commands.hpp"
#include "repository/backup_dir.hpp"
#include "settings.hpp"

namespace {

constexpr std::array<std::string_view, 10> commands = {
    "run",     "backup", "basebackup",  "check", "list",
    "restore", "drill",  "healthcheck", "wal",   "wal-fetch"};
constexpr std::array<std::string_view, 3> wal_commands = {"status", "verify", "drop-slot"};

void print_help(std::ostream& out, const boost::program_options::options_description& desc) {
  out << "usage: pgship-agent COMMAND [options]\n\n"
         "Backs up PostgreSQL on a schedule and ships every backup, verified, to a receiver.\n\n"
         "commands:\n"
         "  run          the daemon: scheduler, /health, /metrics and the control API\n"
         "  backup       one backup run now\n"
         "  basebackup   one physical base backup now, streamed to the receiver (complete once\n"
         "               the receiver holds its WAL: WAL_STREAM=on on a running daemon)\n"
         "  check        check tools, database, backup directory and receiver\n"
         "  list         backups stored on the receiver\n"
         "  restore      restore a backup into a database\n"
         "  drill        restore the receiver's newest backup into a scratch database, compare\n"
         "               every table's rows with the backup's counts, drop it\n"
         "  healthcheck  exit 0 when the running daemon reports healthy\n"
         "  wal status   the WAL stream: slot, timeline, server, received and receiver-durable\n"
         "               positions, lag (the running daemon's view, else PostgreSQL's and the\n"
         "               receiver's) [--json]\n"
         "  wal verify   the receiver's WAL archive of this cluster has no gaps (exit 0), or\n"
         "               names each one (exit 62) [--json] [--system ID]\n"
         "  wal drop-slot  drop WAL_SLOT on the server (decommissioning; stop the daemon first)\n"
         "  wal-fetch FILE PATH  PostgreSQL's restore_command: FILE of PITR_SYSTEM's archive\n"
         "               into PATH (exit 1: the archive has no such file; 126: any failure)\n\n"
      << desc << "\nSettings come from --config FILE and the environment; see conf/agent.env.\n";
}

namespace po = boost::program_options;

// Options of one command, beside the shared ones.
void add_command_options(std::string_view command, po::options_description& desc) {
  if (command == "backup" || command == "basebackup" || command == "restore" ||
      command == "drill") {
    desc.add_options()("progress", po::value<std::string>()->default_value("auto"),
                       "bytes, rate and ETA of each stage on stderr: auto (on a terminal), "
                       "always, never, or json (one object per line)");
  }
  if (command == "backup") {
    desc.add_options()("database", po::value<std::vector<std::string>>(),
                       "only this database of POSTGRES_DB (repeatable)");
  } else if (command == "list") {
    desc.add_options()("database", po::value<std::string>(), "only backups of this database")(
        "json", po::bool_switch(), "print the receiver's JSON instead of a table")(
        "at", po::value<std::string>(),
        "per database, the dump restore --at TIME would take (RFC 3339, or YYYY-MM-DD "
        "HH:MM[:SS] in TZ)");
  } else if (command == "restore") {
    desc.add_options()("id", po::value<std::string>(), "the backup to restore (see `list`)")(
        "latest", po::bool_switch(), "restore the newest backup instead of --id")(
        "database", po::value<std::string>(), "with --latest or --at: the newest of this database")(
        "target-db", po::value<std::string>(), "database to restore into (required)")(
        "create", po::bool_switch(), "create the target database when it does not exist")(
        "clean", po::bool_switch(), "drop objects the backup contains before restoring them")(
        "no-owner", po::bool_switch(), "do not restore object ownership")(
        "jobs", po::value<int>(),
        "pg_restore -j N: restore N tables at a time (not one transaction)")(
        "pitr", po::bool_switch(),
        "point-in-time recovery from the physical archive into --target-dir (with --at)")(
        "at", po::value<std::string>(),
        "the newest dump taken at or before TIME (RFC 3339, or YYYY-MM-DD HH:MM[:SS] in TZ); "
        "with --pitr: latest, an LSN, or an RFC 3339 time")("target-dir", po::value<std::string>(),
                                                            "with --pitr: the new data directory")(
        "start", po::bool_switch(),
        "with --pitr: start PostgreSQL on it and wait until recovery reached the target")(
        "system", po::value<std::string>(),
        "with --pitr: the archive's system identifier (default PITR_SYSTEM, else the server's)")(
        "globals", po::bool_switch(),
        "the cluster's roles and tablespaces (GLOBALS): the newest globals backup (or --id) "
        "applied to POSTGRES_HOST; roles it already has are left as they are");
  } else if (command == "drill") {
    desc.add_options()("database", po::value<std::string>(), "only this database of POSTGRES_DB")(
        "id", po::value<std::string>(), "drill this backup instead of the newest")(
        "jobs", po::value<int>(), "pg_restore -j N over a downloaded file (default DRILL_JOBS)")(
        "pitr", po::bool_switch(),
        "a point-in-time recovery drill: base backup and WAL recovered into a scratch data "
        "directory, started, checked with amcheck and counted, removed")(
        "at", po::value<std::string>(),
        "with --pitr: latest (default), random (a moment inside the PITR window), an LSN or an "
        "RFC 3339 time");
  } else if (command == "wal") {
    desc.add_options()("json", po::bool_switch(), "wal status, wal verify: one JSON object")(
        "system", po::value<std::string>(),
        "wal verify: the archive of this system identifier (default: the server's)");
  }
}

template <class T>
T value_or(const po::variables_map& vars, const char* name, T fallback) {
  return vars.count(name) ? vars[name].as<T>() : fallback;
}

int dispatch_wal(std::string_view subcommand, const pgship::agent::settings& settings,
                 const po::variables_map& vars) {
  using namespace pgship::agent;
  const wal_options o{value_or(vars, "json", false), value_or(vars, "system", std::string())};
  if (subcommand == "status") return command_wal_status(settings, o);
  if (subcommand == "verify") return command_wal_verify(settings, o);
  return command_wal_drop_slot(settings);
}

// --progress, with auto decided by whether stderr is a terminal.
pgship::agent::progress_mode progress_of(const po::variables_map& vars) {
  const auto text = value_or(vars, "progress", std::string("never"));
  const auto mode = pgship::agent::parse_progress_mode(text, pgship::agent::stderr_is_terminal());
  if (!mode) {
    throw pgship::config::config_error("--progress must be auto, always, never or json, not '" +
                                       text + "'");
  }
  return *mode;
}

// wal-fetch's FILE and PATH (%f %p), taken off the command line before the options.
std::array<std::string_view, 2> wal_fetch_args;

int dispatch(std::string_view command, std::string_view subcommand,
             const pgship::agent::settings& settings, const po::variables_map& vars,
             std::function<pgship::agent::settings()> reload) {
  using namespace pgship::agent;
  if (command == "wal") return dispatch_wal(subcommand, settings, vars);
  if (command == "wal-fetch") {
    return command_wal_fetch(settings,
                             {std::string(wal_fetch_args[0]), std::string(wal_fetch_args[1])});
  }
  if (command == "backup") {
    return command_backup(
        settings, {value_or(vars, "database", std::vector<std::string>{}), progress_of(vars)});
  }
  if (command == "basebackup") return command_basebackup(settings, progress_of(vars));
  if (command == "check") return command_check(settings);
  if (command == "run") return command_run(settings, std::move(reload));
  if (command == "healthcheck") return command_healthcheck(settings);
  if (command == "list") {
    return command_list(settings,
                        {value_or(vars, "database", std::string()), value_or(vars, "json", false),
                         value_or(vars, "at", std::string())});
  }
  if (command == "restore" && value_or(vars, "pitr", false)) {
    return command_restore_pitr(settings, {value_or(vars, "at", std::string("latest")),
                                           value_or(vars, "target-dir", std::string()),
                                           value_or(vars, "system", std::string()),
                                           value_or(vars, "start", false), progress_of(vars)});
  }
  if (command == "restore") {
    restore_options o;
    o.id = value_or(vars, "id", std::string());
    o.latest = value_or(vars, "latest", false);
    o.at = value_or(vars, "at", std::string());
    o.database = value_or(vars, "database", std::string());
    o.target_db = value_or(vars, "target-db", std::string());
    o.create = value_or(vars, "create", false);
    o.clean = value_or(vars, "clean", false);
    o.no_owner = value_or(vars, "no-owner", false);
    o.jobs = value_or(vars, "jobs", 1);
    o.globals = value_or(vars, "globals", false);
    o.progress = progress_of(vars);
    return command_restore(settings, o);
  }
  if (command == "drill" && value_or(vars, "pitr", false)) {
    return command_pitr_drill(settings, value_or(vars, "at", std::string("latest")),
                              progress_of(vars));
  }
  if (command == "drill") {
    return command_drill(
        settings, {value_or(vars, "database", std::string()), value_or(vars, "id", std::string()),
                   value_or(vars, "jobs", settings.drill_jobs), progress_of(vars)});
  }
  std::cerr << "pgship-agent: '" << command << "' is not available in this build yet\n";
  return static_cast<int>(pgship::errc::internal);
}

int agent_main(int argc, char** argv) {
  po::options_description desc("options");
  pgship::cli::add_common_options(desc);

  std::string_view command;
  std::span<char*> rest(argv, static_cast<std::size_t>(argc));
  if (argc > 1 && argv[1][0] != '-') {
    command = argv[1];
    rest = rest.subspan(1);  // argv[1] stands in for the program name
    if (std::find(commands.begin(), commands.end(), command) == commands.end()) {
      throw pgship::config::config_error("unknown command '" + std::string(command) +
                                         "' (see pgship-agent --help)");
    }
    add_command_options(command, desc);
  }
  // `wal` takes its own command: wal status|verify|drop-slot.
  std::string_view subcommand;
  if (command == "wal" && rest.size() > 1 && rest[1][0] != '-') {
    subcommand = rest[1];
    rest = rest.subspan(1);
    if (std::find(wal_commands.begin(), wal_commands.end(), subcommand) == wal_commands.end()) {
      throw pgship::config::config_error("unknown command 'wal " + std::string(subcommand) +
                                         "' (wal status, wal verify or wal drop-slot)");
    }
  }

  // wal-fetch FILE PATH: PostgreSQL's %f and %p come first.
  std::vector<char*> without_positionals;
  if (command == "wal-fetch") {
    const bool asked_help = std::any_of(rest.begin(), rest.end(), [](const char* a) {
      return std::string_view(a) == "--help" || std::string_view(a) == "-h";
    });
    if (rest.size() >= 3 && rest[1][0] != '-' && rest[2][0] != '-') {
      wal_fetch_args = {rest[1], rest[2]};
      without_positionals.push_back(rest[0]);
      without_positionals.insert(without_positionals.end(), rest.begin() + 3, rest.end());
      rest = without_positionals;
    } else if (!asked_help) {
      throw pgship::config::config_error("wal-fetch needs FILE and PATH (restore_command's %f %p)");
    }
  }

  boost::program_options::variables_map vars;
  const auto opts = pgship::cli::parse(rest, desc, vars);
  if (opts.help || (command.empty() && !opts.version && !opts.print_config)) {
    print_help(std::cout, desc);
    return 0;
  }
  if (opts.version) {
    std::cout << "pgship-agent " << pgship::version << "\n";
    return 0;
  }
  if (command == "wal" && subcommand.empty() && !opts.print_config) {
    throw pgship::config::config_error(
        "wal needs a command: wal status, wal verify or wal drop-slot");
  }

  const auto cfg = pgship::cli::load_config(pgship::agent::config_schema(), opts);
  using pgship::agent::settings_use;
  // The wal commands back nothing up: like restore, they need no POSTGRES_DB or ARCHIVE_DIRS.
  const auto use = command == "list"                          ? settings_use::list
                   : command == "wal-fetch"                   ? settings_use::fetch
                   : command == "restore" || command == "wal" ? settings_use::restore
                                                              : settings_use::backup;
  if (opts.print_config) {
    for (const auto& w : cfg.warnings())
      std::cerr << "warning: " << w << "\n";
    std::cout << cfg.redacted();
    pgship::agent::read_settings(cfg, use);  // still report what is wrong, with exit code 2
    return 0;
  }
  pgship::cli::setup_logging(cfg);
  const auto settings = pgship::agent::read_settings(cfg, use);
  // Root (the old tool's config is root's, so people run `backup` by hand as root) works in
  // BACKUP_DIR as its owner: what it leaves there stays usable by the service.
  const bool pitr = command == "restore" && value_or(vars, "pitr", false);
  if (pitr && vars.count("target-dir")) {
    // A recovered data directory must be its server's user's: run as the owner of DIR (or of
    // its parent, when DIR is to be made).
    std::filesystem::path dir = vars["target-dir"].as<std::string>();
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) dir = std::filesystem::absolute(dir).parent_path();
    try {
      if (const auto user = pgship::agent::become_backup_dir_owner(dir, dir.string());
          !user.empty()) {
        pgship::log::write(spdlog::level::info,
                           "running as " + user + ", the owner of " + dir.string(), {});
      }
    } catch (const std::system_error& e) {
      std::cerr << "pgship-agent: " << e.what() << "\n";
      return static_cast<int>(pgship::errc::local_io_failed);
    }
  } else if (command == "backup" || command == "basebackup" || command == "check" ||
             command == "restore" || command == "drill" || command == "run") {
    try {
      if (const auto user = pgship::agent::become_backup_dir_owner(settings.backup_dir);
          !user.empty()) {
        pgship::log::write(spdlog::level::info, "running as " + user + ", the owner of BACKUP_DIR",
                           {{"backup_dir", settings.backup_dir.string()}});
      }
    } catch (const std::system_error& e) {
      std::cerr << "pgship-agent: " << e.what() << "\n";
      return static_cast<int>(pgship::errc::local_io_failed);
    }
  }
  // SIGHUP: the same file and environment, read again.
  auto reload = [opts] {
    return pgship::agent::read_settings(
        pgship::cli::load_config(pgship::agent::config_schema(), opts));
  };
  return dispatch(command, subcommand, settings, vars, reload);
}

}  // namespace

int main(int argc, char** argv) {
  const int code = pgship::cli::run_guarded("pgship-agent", [&] { return agent_main(argc, argv); });
  // wal-fetch is PostgreSQL's restore_command: 1 says "the archive has no such file" and ends
  // recovery there. Any other failure (settings, token, network, hash) must stop recovery
  // instead, which PostgreSQL does for an exit code above 125.
  if (argc > 1 && std::string_view(argv[1]) == "wal-fetch" && code != 0 && code != 1) return 126;
  return code;
}
