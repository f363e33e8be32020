#pragma once
// RUN_LOG_DIR: the log file of one run, beside which the old ones expire.

#include <memory>
#include <string>

#include <pgship/common/log.hpp>

#include "settings.hpp"

namespace pgship::agent {

/// RUN_LOG_DIR: a file per run (`<run_id>.log`, its path into `path`), kept RUN_LOG_KEEP_DAYS;
/// older ones go when a run starts. Null (warned) when it cannot be opened.
std::unique_ptr<log::run_log_file> open_run_log(const settings& cfg, const std::string& run_id,
                                                std::string& path);

}  // namespace pgship::agent
