#include <iostream>

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "net/receiver_api.hpp"

namespace pgship::agent {

namespace net = boost::asio;

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
    if (opts.json) {
      std::cout << raw << "\n";
      co_return 0;
    }
    std::cout << fmt::format("{:<40} {:<8} {:<20} {:>12}  {:<20}  {}\n", "ID", "KIND", "DATABASE",
                             "SIZE", "CREATED (UTC)", "SHA256");
    for (const auto& b : backups) {
      // The globals belong to the cluster, not to a database (one may be called globals).
      const std::string database = b.kind == backup_kind::globals ? "-" : b.database;
      std::cout << fmt::format("{:<40} {:<8} {:<20} {:>12}  {:<20}  {}\n", b.id, to_string(b.kind),
                               database, b.size, b.taken, b.sha256.substr(0, 16));
    }
    if (backups.empty()) std::cout << "(no backups)\n";
    co_return 0;
  });
}

}  // namespace pgship::agent
