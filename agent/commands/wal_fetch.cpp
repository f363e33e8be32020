// `pgship-agent wal-fetch FILE PATH --config FILE`: PostgreSQL's restore_command for pgship's
// physical archive (restore --pitr writes it into the recovered cluster's settings). Exit 0
// with the file at PATH; 1 only when the archive does not have it, which is how recovery
// learns it reached the end; every other failure exits 126 (main), which PostgreSQL takes as
// fatal: a broken archive or a refused token stops recovery instead of ending it early at the
// wrong point.

#include <iostream>

#include <boost/asio/this_coro.hpp>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "net/receiver_api.hpp"
#include "net/wal_api.hpp"
#include "pipeline/wal_fetch.hpp"

namespace pgship::agent {

namespace net = boost::asio;

int command_wal_fetch(const settings& cfg, const wal_fetch_options& opts) {
  return run_command([&]() -> net::awaitable<int> {
    const auto ex = co_await net::this_coro::executor;
    wal_api_factory open = [&cfg, ex] {
      return std::make_unique<wal_api>(make_receiver_client(ex, cfg), cfg.backup_api_token,
                                       cfg.pitr_system);
    };
    wal_fetch_request request;
    request.file = opts.file;
    request.target = opts.path;
    request.spool = cfg.pitr_spool;
    request.secrets.identities = cfg.age_identities;
    request.log = log::context{{"file", opts.file}};
    wal_fetch_outcome outcome = wal_fetch_outcome::absent;
    if (auto error = co_await fetch_wal(open, request, outcome)) {
      std::cerr << "pgship-agent wal-fetch: " << opts.file << ": " << error.message << "\n";
      co_return error.code.value();
    }
    co_return outcome == wal_fetch_outcome::fetched ? 0 : 1;
  });
}

}  // namespace pgship::agent
