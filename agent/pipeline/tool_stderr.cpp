#include "pipeline/tool_stderr.hpp"

namespace pgship::agent {

void log_tool_stderr(std::string_view text, const std::string& tool, const log::context& lg) {
  const auto tagged = lg.with({{"tool", tool}});
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto line = text.substr(0, nl);
    if (!line.empty()) tagged.warn("{}", line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace pgship::agent
