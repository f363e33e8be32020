// pgship-receiver: command-line entry. `serve` (the default) runs the server; `healthcheck`
// asks a running one for /readyz (`--full`: /health).

#include <iostream>
#include <string_view>

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/value_semantic.hpp>

#include <pgship/common/cli.hpp>
#include <pgship/common/errors.hpp>
#include <pgship/common/time_text.hpp>
#include <pgship/common/version.hpp>

#include "app/healthcheck.hpp"
#include "app/retention_command.hpp"
#include "app/serve.hpp"
#include "state/settings.hpp"

namespace {

void print_help(std::ostream& out, const boost::program_options::options_description& desc) {
  out << "usage: pgship-receiver [serve|healthcheck|retention] [options]\n\n"
         "Receives streamed PostgreSQL backups, checks their SHA-256, stores and serves them.\n\n"
         "commands:\n"
         "  serve        run the server (default)\n"
         "  healthcheck  exit 0 when the running server is ready (GET /readyz: serving, storage\n"
         "               writable); with --full, when GET /health is ok (also fails on low free\n"
         "               space and scrub findings)\n"
         "  retention    apply the retention rules (KEEP_DAYS/_WEEKS/_MONTHS, PITR_KEEP_DAYS)\n"
         "               now, printing what each rule keeps and what goes; with --dry-run,\n"
         "               only print (--now TIME: as at that RFC 3339 time, a future one\n"
         "               only with --dry-run or --force; --client NAME)\n\n"
      << desc << "\nSettings come from --config FILE and the environment; see conf/receiver.env.\n";
}

int receiver_main(int argc, char** argv) {
  boost::program_options::options_description desc("options");
  pgship::cli::add_common_options(desc);
  bool full = false;
  bool dry_run = false;
  std::string now_text;
  std::string client;
  bool force = false;
  desc.add_options()("full", boost::program_options::bool_switch(&full),
                     "healthcheck: ask /health instead of /readyz")(
      "dry-run", boost::program_options::bool_switch(&dry_run),
      "retention: print the plan, delete nothing")(
      "now", boost::program_options::value(&now_text),
      "retention: plan as at this time (RFC 3339, e.g. 2026-12-24T00:00:00Z)")(
      "client", boost::program_options::value(&client), "retention: this client only")(
      "force", boost::program_options::bool_switch(&force),
      "retention: carry out a plan made for a future --now");

  std::string_view command = "serve";
  std::span<char*> rest(argv, static_cast<std::size_t>(argc));
  if (argc > 1 && argv[1][0] != '-') {
    command = argv[1];
    rest = rest.subspan(1);
    if (command != "serve" && command != "healthcheck" && command != "retention") {
      throw pgship::config::config_error("unknown command '" + std::string(command) +
                                         "' (see pgship-receiver --help)");
    }
  }

  boost::program_options::variables_map vars;
  const auto opts = pgship::cli::parse(rest, desc, vars);
  if (opts.help) {
    print_help(std::cout, desc);
    return 0;
  }
  if (opts.version) {
    std::cout << "pgship-receiver " << pgship::version << "\n";
    return 0;
  }

  const auto cfg = pgship::cli::load_config(pgship::receiver::config_schema(), opts);
  if (opts.print_config) {
    for (const auto& w : cfg.warnings())
      std::cerr << "warning: " << w << "\n";
    std::cout << cfg.redacted();
    pgship::receiver::read_settings(cfg);  // still report what is wrong, with exit code 2
    return 0;
  }
  pgship::cli::setup_logging(cfg);
  const auto settings = pgship::receiver::read_settings(cfg);
  if (command == "healthcheck") return pgship::receiver::healthcheck(settings, full);
  if (full) throw pgship::config::config_error("--full belongs to healthcheck");
  if (command == "retention") {
    pgship::receiver::retention_request request;
    request.dry_run = dry_run;
    if (!now_text.empty()) {
      const auto at = pgship::parse_rfc3339(now_text);
      if (!at) {
        throw pgship::config::config_error("--now \"" + now_text +
                                           "\" is not an RFC 3339 time with its offset");
      }
      request.now = std::chrono::time_point_cast<std::chrono::system_clock::duration>(*at);
    }
    if (!client.empty()) request.client = client;
    request.force = force;
    return pgship::receiver::run_retention_command(settings, request, std::cout, std::cerr);
  }
  if (dry_run || force || !now_text.empty() || !client.empty()) {
    throw pgship::config::config_error(
        "--dry-run, --now, --force and --client belong to retention");
  }
  // SIGHUP: the same file and environment, read again.
  auto reload = [opts] {
    return pgship::receiver::read_settings(
        pgship::cli::load_config(pgship::receiver::config_schema(), opts));
  };
  return pgship::receiver::serve(settings, reload);
}

}  // namespace

int main(int argc, char** argv) {
  return pgship::cli::run_guarded("pgship-receiver", [&] { return receiver_main(argc, argv); });
}
