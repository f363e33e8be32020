// pgship-receiver: command-line entry. `serve` (the default) runs the server; `healthcheck`
// asks a running one for /readyz (`--full`: /health).

#include <iostream>
#include <string_view>

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/value_semantic.hpp>

#include <pgship/common/cli.hpp>
#include <pgship/common/errors.hpp>
#include <pgship/common/version.hpp>

#include "app/healthcheck.hpp"
#include "app/serve.hpp"
#include "state/settings.hpp"

namespace {

void print_help(std::ostream& out, const boost::program_options::options_description& desc) {
  out << "usage: pgship-receiver [serve|healthcheck] [options]\n\n"
         "Receives streamed PostgreSQL backups, checks their SHA-256, stores and serves them.\n\n"
         "commands:\n"
         "  serve        run the server (default)\n"
         "  healthcheck  exit 0 when the running server is ready (GET /readyz: serving, storage\n"
         "               writable); with --full, when GET /health is ok (also fails on low free\n"
         "               space and scrub findings)\n\n"
      << desc << "\nSettings come from --config FILE and the environment; see conf/receiver.env.\n";
}

int receiver_main(int argc, char** argv) {
  boost::program_options::options_description desc("options");
  pgship::cli::add_common_options(desc);
  bool full = false;
  desc.add_options()("full", boost::program_options::bool_switch(&full),
                     "healthcheck: ask /health instead of /readyz");

  std::string_view command = "serve";
  std::span<char*> rest(argv, static_cast<std::size_t>(argc));
  if (argc > 1 && argv[1][0] != '-') {
    command = argv[1];
    rest = rest.subspan(1);
    if (command != "serve" && command != "healthcheck") {
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
