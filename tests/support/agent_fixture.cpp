#include "agent_fixture.hpp"
#include <algorithm>
#include <cstdlib>
#include <sstream>

#include <pgship/common/sha256.hpp>

#include "temp_dir.hpp"

namespace pgship::test {
namespace stdfs = std::filesystem;

namespace {

std::vector<std::string> files_in(const stdfs::path& dir, std::string_view suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.ends_with(suffix) && name != ".lock") out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::map<std::string, std::string> agent_fixture::agent_config(
    const std::string& databases, const std::map<std::string, std::string>& overrides,
    pg_cluster* server) {
  auto& db = server != nullptr ? *server : database_server();
  std::map<std::string, std::string> c = {
      {"POSTGRES_HOST", db.host()},
      {"POSTGRES_PORT", std::to_string(db.port())},
      {"POSTGRES_DB", databases},
      {"POSTGRES_USER", db.user()},
      {"POSTGRES_PASSWORD", db.password()},
      {"BACKUP_DIR", backup_dir().string()},
      {"KEEP_LOCAL_BACKUPS", "3"},
      {"MAX_RETRIES", "3"},
      {"RETRY_DELAY", "100ms"},
      {"LOG_LEVEL", "info"},
      // The globals step (on by default) adds a backup of its own to each full run; tests
      // that count backups predate it, and agent_globals_test turns it on.
      {"GLOBALS", "off"},
  };
  if (receiver_) {
    c["BACKUP_API_URL"] = receiver_->url();
    c["BACKUP_API_TOKEN"] = token_;
  } else {
    c["UPLOAD"] = "off";
  }
  for (const auto& [k, v] : overrides)
    c[k] = v;
  return c;
}

stdfs::path agent_fixture::write_config(const std::map<std::string, std::string>& config,
                                        const std::string& file_name) {
  std::string text = "# written by agent_fixture\n";
  for (const auto& [k, v] : config)
    text += k + "=\"" + v + "\"\n";
  const auto path = dir_ / file_name;
  write_file(path, text);
  return path;
}

std::vector<std::string> agent_fixture::agent_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {PGSHIP_AGENT_BIN};
  // PGSHIP_TEST_WRAPPER="valgrind -q --error-exitcode=99" runs the agent under a checker.
  if (const char* wrapper = std::getenv("PGSHIP_TEST_WRAPPER"); wrapper && *wrapper) {
    std::istringstream words(wrapper);
    std::vector<std::string> prefix;
    for (std::string w; words >> w;)
      prefix.push_back(w);
    argv.insert(argv.begin(), prefix.begin(), prefix.end());
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

process_result agent_fixture::run_agent(const std::vector<std::string>& args,
                                        std::chrono::milliseconds timeout) {
  const auto argv = agent_argv(args);
  process_options options;
  options.timeout = timeout;
  return run_process(argv, options);
}

std::vector<std::string> agent_fixture::local_dumps() const {
  return files_in(backup_dir(), ".dump");
}

std::vector<std::string> agent_fixture::partial_files() const {
  return files_in(backup_dir() / ".partial", "");
}

std::vector<std::string> agent_fixture::stored_dumps(const std::string& database) const {
  if (!receiver_) return {};
  return files_in(receiver_->storage_dir() / "default" / database, ".dump");
}

std::string agent_fixture::table_fingerprint(const std::string& database) {
  std::string out;
  for (const char* table : {"accounts", "instruments", "trades", "order_events"}) {
    out += std::string(table) + ":" +
           pg().query_value(database, std::string("SELECT count(*) || '|' || "
                                                  "md5(coalesce(string_agg(t::text, ',' ORDER "
                                                  "BY t::text), '')) FROM ") +
                                          table + " t") +
           "\n";
  }
  return out;
}

std::vector<std::string> agent_fixture::files_ending(const std::filesystem::path& dir,
                                                     const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.ends_with(suffix)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string agent_fixture::sha256_hex(const std::filesystem::path& file) {
  std::error_code ec;
  const auto digest = sha256_of_file(file, ec);
  return digest ? to_hex(*digest) : "unreadable: " + ec.message();
}

}  // namespace pgship::test
