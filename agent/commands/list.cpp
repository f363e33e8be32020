#include <iostream>
#include <set>

#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <pgship/common/time_text.hpp>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "net/receiver_api.hpp"
#include "pipeline/backup_at.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

void print_header() {
  std::cout << fmt::format("{:<40} {:<8} {:<20} {:>12}  {:<20}  {}\n", "ID", "KIND", "DATABASE",
                           "SIZE", "CREATED (UTC)", "SHA256");
}

void print_row(const remote_backup& b, const std::string& database) {
  std::cout << fmt::format("{:<40} {:<8} {:<20} {:>12}  {:<20}  {}\n", b.id, to_string(b.kind),
                           database, b.size, b.taken, b.sha256.substr(0, 16));
}

// list --at: per database, the dump restore --at would take (--json: their receiver records).
int print_dumps_at(const std::vector<remote_backup>& backups, const list_options& opts,
                   const std::string& raw) {
  std::string why;
  const auto at = parse_backup_time(opts.at, why);
  if (!at) {
    std::cerr << "pgship-agent: " << why << "\n";
    return static_cast<int>(errc::config_invalid);
  }
  const auto chosen = dumps_at(backups, *at);
  if (opts.json) {
    std::set<std::string> ids;
    for (const auto& [database, b] : chosen)
      if (b) ids.insert(b->id);
    boost::json::array out;
    boost::system::error_code ec;
    auto records = boost::json::parse(raw, ec);
    if (!ec && records.is_array()) {
      for (const auto& r : records.as_array()) {
        const auto* id = r.is_object() ? r.as_object().if_contains("id") : nullptr;
        if (id && id->is_string() && ids.contains(std::string(id->as_string()))) out.push_back(r);
      }
    }
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  std::cout << "the dump restore --at " << opts.at << " takes (" << format_utc(*at) << "):\n";
  print_header();
  for (const auto& [database, b] : chosen) {
    if (b) {
      print_row(*b, database);
    } else {
      std::cout << fmt::format("{:<40} {:<8} {:<20}  (its oldest dump is newer)\n", "-", "dump",
                               database);
    }
  }
  if (chosen.empty()) std::cout << "(no dumps)\n";
  return 0;
}

}  // namespace

int command_list(const settings& cfg, const list_options& opts) {
  if (!cfg.upload) {
    std::cerr << "pgship-agent: list needs a receiver, but UPLOAD=off\n";
    return static_cast<int>(errc::config_invalid);
  }
  return run_command([&]() -> net::awaitable<int> {
    auto client = make_receiver_client(co_await net::this_coro::executor, cfg);
    std::vector<remote_backup> backups;
    std::string raw;
    const auto error =
        co_await list_remote_backups(*client, cfg.backup_api_token, opts.database, backups, &raw);
    if (error) {
      std::cerr << "pgship-agent: " << error.message << "\n";
      co_return error.code.value();
    }
    if (!opts.at.empty()) co_return print_dumps_at(backups, opts, raw);
    if (opts.json) {
      std::cout << raw << "\n";
      co_return 0;
    }
    print_header();
    for (const auto& b : backups) {
      // The globals belong to the cluster, not to a database (one may be called globals).
      const std::string database = b.kind == backup_kind::globals ? "-" : b.database;
      print_row(b, database);
    }
    if (backups.empty()) std::cout << "(no backups)\n";
    co_return 0;
  });
}

}  // namespace pgship::agent
