#include "pg_tools.hpp"
#include <algorithm>
#include <charconv>
#include <system_error>

#include <boost/process/v2/environment.hpp>

#include "child_process.hpp"

namespace pgship::agent {
namespace fs = std::filesystem;

std::optional<std::pair<int, std::string>> parse_tool_version(std::string_view text) {
  const auto marker = text.find("(PostgreSQL) ");
  if (marker == std::string_view::npos) return std::nullopt;
  text.remove_prefix(marker + 13);
  const auto end = text.find_first_not_of("0123456789.");
  const std::string_view version = text.substr(0, end);
  int major = 0;
  const auto [p, ec] = std::from_chars(version.data(), version.data() + version.size(), major);
  if (ec != std::errc() || p == version.data() || major <= 0) return std::nullopt;
  return std::make_pair(major, std::string(version));
}

std::vector<fs::path> pg_dump_candidates(const std::optional<fs::path>& configured,
                                         int server_major, const fs::path& root) {
  std::error_code ec;
  if (configured) return {*configured};
  std::vector<fs::path> out;
  const auto own = root / std::to_string(server_major) / "bin" / "pg_dump";
  if (fs::is_regular_file(own, ec)) out.push_back(own);
  std::vector<std::pair<int, fs::path>> newer;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    int major = 0;
    const auto [p, perr] = std::from_chars(name.data(), name.data() + name.size(), major);
    if (perr != std::errc() || p != name.data() + name.size() || major <= server_major) continue;
    const auto candidate = it->path() / "bin" / "pg_dump";
    if (fs::is_regular_file(candidate, ec)) newer.emplace_back(major, candidate);
  }
  std::sort(newer.begin(), newer.end(), [](const auto& a, const auto& b) { return a > b; });
  for (auto& [major, path] : newer)
    out.push_back(std::move(path));
  const auto on_path = boost::process::v2::environment::find_executable("pg_dump");
  if (!on_path.empty()) out.emplace_back(on_path.string());
  return out;
}

boost::asio::awaitable<std::optional<pg_tool>> probe_tool(fs::path program) {
  std::string out;
  const child_spec spec{program, {"--version"}, {}, std::chrono::seconds(30)};
  const auto result = co_await run_child_capture(spec, out);
  if (!result.ok()) co_return std::nullopt;
  const auto parsed = parse_tool_version(out);
  if (!parsed) co_return std::nullopt;
  co_return pg_tool{program, parsed->first, parsed->second};
}

boost::asio::awaitable<stage_error> choose_tools(std::optional<fs::path> configured,
                                                 int server_major, pg_toolset& tools) {
  const auto candidates = pg_dump_candidates(configured, server_major);
  std::optional<pg_tool> newest_too_old;
  bool found_any = false;
  for (const auto& candidate : candidates) {
    const auto tool = co_await probe_tool(candidate);
    if (!tool) continue;
    found_any = true;
    if (tool->major < server_major) {
      if (!newest_too_old || tool->major > newest_too_old->major) newest_too_old = tool;
      continue;
    }
    tools.dump = *tool;
    break;
  }
  const std::string server = std::to_string(server_major);
  if (tools.dump.path.empty()) {
    if (!found_any) {
      co_return fail(errc::pg_dump_not_found,
                     configured ? "PG_DUMP_PATH=" + configured->string() + " does not run"
                                : "no pg_dump found (looked in /usr/lib/postgresql/*/bin and "
                                  "on PATH); install postgresql-client-" +
                                      server);
    }
    co_return fail(errc::pg_dump_version_mismatch,
                   "pg_dump " + newest_too_old->version + " (" + newest_too_old->path.string() +
                       ") cannot dump a PostgreSQL " + server +
                       " server; install postgresql-client-" + server +
                       " or set PG_DUMP_PATH to a pg_dump of version " + server + " or newer");
  }

  // pg_restore must read what this pg_dump writes: the one beside it first.
  const fs::path beside = tools.dump.path.parent_path() / "pg_restore";
  std::optional<pg_tool> restore = co_await probe_tool(beside);
  if (!restore || restore->major < tools.dump.major) {
    const fs::path on_path(boost::process::v2::environment::find_executable("pg_restore").string());
    if (!on_path.empty()) restore = co_await probe_tool(on_path);
  }
  if (!restore || restore->major < tools.dump.major) {
    co_return fail(errc::pg_dump_not_found,
                   "no pg_restore of version " + std::to_string(tools.dump.major) +
                       " or newer found beside " + tools.dump.path.string() + " or on PATH");
  }
  tools.restore = *restore;
  co_return stage_error{};
}

}  // namespace pgship::agent

namespace pgship::agent {

boost::asio::awaitable<stage_error> find_tool_beside(const pg_tool& pg_dump, std::string name,
                                                     std::string needed_for, pg_tool& out) {
  std::optional<pg_tool> tool = co_await probe_tool(pg_dump.path.parent_path() / name);
  if (!tool || tool->major < pg_dump.major) {
    const std::filesystem::path on_path(
        boost::process::v2::environment::find_executable(name).string());
    if (!on_path.empty()) tool = co_await probe_tool(on_path);
  }
  if (!tool || tool->major < pg_dump.major) {
    co_return fail(errc::pg_dump_not_found,
                   "no " + name + " of version " + std::to_string(pg_dump.major) +
                       " or newer found beside " + pg_dump.path.string() + " or on PATH (" +
                       needed_for + " needs it; it comes with postgresql-client-" +
                       std::to_string(pg_dump.major) + ")");
  }
  out = *tool;
  co_return stage_error{};
}

}  // namespace pgship::agent
