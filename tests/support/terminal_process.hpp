#pragma once
// Runs a child on a pseudo-terminal, as an operator's shell would: its stdin, stdout and
// stderr are the terminal, so isatty() says yes. What it wrote (both streams, interleaved, as
// the terminal showed them) comes back in `out`.

#include <string>
#include <vector>

#include "process.hpp"

namespace pgship::test {

process_result run_in_terminal(const std::vector<std::string>& argv,
                               const process_options& options = {});

}  // namespace pgship::test
