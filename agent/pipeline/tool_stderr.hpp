#pragma once
// What a PostgreSQL client tool (pg_dump, pg_dumpall) wrote to stderr, into the run's log:
// one warning per line, tagged with the tool, so its NOTICEs and ERRORs read in order.

#include <string>
#include <string_view>

#include <pgship/common/log.hpp>

namespace pgship::agent {

void log_tool_stderr(std::string_view text, const std::string& tool, const log::context& lg);

}  // namespace pgship::agent
