#include <iostream>

#include <boost/program_options/parsers.hpp>

#include <pgship/common/cli.hpp>
#include <pgship/common/errors.hpp>
#include <pgship/common/log.hpp>

namespace po = boost::program_options;

namespace pgship::cli {

void add_common_options(po::options_description& desc) {
  desc.add_options()("help,h", "show this help and exit")("version", "print the version and exit")(
      "config,c", po::value<std::string>()->value_name("FILE"),
      "read KEY=VALUE settings from FILE (the environment overrides it)")(
      "print-config", "print the effective configuration, secrets redacted, and exit");
}

common_options parse(std::span<char*> args, const po::options_description& desc,
                     po::variables_map& vars) {
  try {
    po::store(
        po::command_line_parser(static_cast<int>(args.size()), args.data()).options(desc).run(),
        vars);
    po::notify(vars);
  } catch (const po::error& e) {
    throw config::config_error(e.what());
  }
  common_options out;
  out.help = vars.count("help") > 0;
  out.version = vars.count("version") > 0;
  out.print_config = vars.count("print-config") > 0;
  if (vars.count("config")) out.config_file = vars["config"].as<std::string>();
  return out;
}

config::config load_config(std::span<const config::key_spec> schema, const common_options& opts) {
  return config::config::load(schema, opts.config_file, config::process_environment());
}

void setup_logging(const config::config& cfg) {
  const auto fmt = cfg.choice("LOG_FORMAT", {"text", "json"});
  const auto level = cfg.choice(
      "LOG_LEVEL", {"trace", "debug", "info", "warn", "warning", "error", "critical", "off"});
  log::setup(*log::parse_format(fmt), *log::parse_level(level));
  for (const auto& w : cfg.warnings())
    spdlog::warn("config: {}", w);
}

int run_guarded(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const config::config_error& e) {
    std::cerr << program << ": configuration error: " << e.what() << "\n";
    return static_cast<int>(errc::config_invalid);
  }
}

}  // namespace pgship::cli
