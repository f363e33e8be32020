#pragma once
// The command-line surface every pgship program and subcommand shares:
// --help, --version, --config FILE, --print-config. Program-specific options are added by
// the caller; parse errors are configuration errors (exit code 2).

#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include <pgship/common/config.hpp>

namespace pgship::cli {

struct common_options {
  std::optional<std::filesystem::path> config_file;
  bool help = false;
  bool version = false;
  bool print_config = false;
};

/// Adds the shared options to `desc`.
void add_common_options(boost::program_options::options_description& desc);

/// Parses argv (after the subcommand, if any) into `vars`. Throws config_error on a bad
/// command line.
common_options parse(std::span<char*> args, const boost::program_options::options_description& desc,
                     boost::program_options::variables_map& vars);

/// Loads the configuration for a program: file from --config, then the environment. Its
/// warnings (K and K_FILE both set) are logged once logging is set up. Throws config_error.
config::config load_config(std::span<const config::key_spec> schema, const common_options& opts);

/// Sets up logging from LOG_FORMAT/LOG_LEVEL of `cfg`; throws config_error for bad values.
void setup_logging(const config::config& cfg);

/// Runs `body`, turning config_error into one line on stderr and exit code 2.
int run_guarded(const char* program, const std::function<int()>& body);

}  // namespace pgship::cli
