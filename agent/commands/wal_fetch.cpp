// `pgship-agent wal-fetch FILE PATH --config FILE`: PostgreSQL's restore_command for pgship's
// physical archive (restore --pitr writes it into the recovered cluster's settings). Exit 0
// with the file at PATH; 1 only when the archive does not have it, which is how recovery
// learns it reached the end; every other failure exits 126 (main), which PostgreSQL takes as
// fatal: a broken archive or a refused token stops recovery instead of ending it early at the
// wrong point.

#include <cstdlib>
#include <deque>
#include <iostream>

#include <boost/asio/this_coro.hpp>
#include <fcntl.h>
#include <unistd.h>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "net/receiver_api.hpp"
#include "net/wal_api.hpp"
#include "pipeline/wal_fetch.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

wal_api_factory opener(const settings& cfg, net::any_io_executor ex) {
  return [&cfg, ex] {
    return std::make_unique<wal_api>(make_receiver_client(ex, cfg), cfg.backup_api_token,
                                     cfg.pitr_system);
  };
}

wal_fetch_request request_of(const settings& cfg, const wal_fetch_options& opts) {
  wal_fetch_request request;
  request.file = opts.file;
  request.target = opts.path;
  request.spool = cfg.pitr_spool;
  request.secrets.identities = cfg.age_identities;
  request.log = log::context{{"file", opts.file}};
  return request;
}

// The prefetch, in a process of its own that outlives this one: PostgreSQL waits for
// restore_command to exit, and replays while the next segments arrive. Its own session, no
// stdio (the server's log stays the server's).
void prefetch_in_background(const settings& cfg, const wal_fetch_options& opts,
                            std::deque<std::string> ahead) {
  // The lock first, here: the child holds it from its first instant (a call right after this
  // one exits sees the prefetch running, and waits for its segments).
  const int lock = claim_prefetch(*cfg.pitr_spool, ahead);
  if (lock < 0) return;  // another prefetch runs
  const pid_t child = ::fork();
  if (child != 0) {
    ::close(lock);  // the child's copy keeps the lock (or a failed fork released it)
    return;
  }
  ::setsid();
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    for (int fd = 0; fd <= 2; ++fd)
      ::dup2(null, fd);
  }
  // Nothing else of PostgreSQL's (its files, its log pipe) stays open in it: the lock on 3.
  ::dup2(lock, 3);
  ::close_range(4, ~0U, 0);
  run_command([&]() -> net::awaitable<int> {
    const auto open = opener(cfg, co_await net::this_coro::executor);
    co_await prefetch_wal(open, request_of(cfg, opts), std::move(ahead));
    co_return 0;
  });
  std::_Exit(0);
}

}  // namespace

int command_wal_fetch(const settings& cfg, const wal_fetch_options& opts) {
  std::deque<std::string> ahead;
  const int code = run_command([&]() -> net::awaitable<int> {
    const auto open = opener(cfg, co_await net::this_coro::executor);
    const auto request = request_of(cfg, opts);
    wal_fetch_outcome outcome = wal_fetch_outcome::absent;
    if (auto error = co_await fetch_wal(open, request, outcome, ahead)) {
      std::cerr << "pgship-agent wal-fetch: " << opts.file << ": " << error.message << "\n";
      co_return error.code.value();
    }
    co_return outcome == wal_fetch_outcome::fetched ? 0 : 1;
  });
  if (code == 0 && !ahead.empty()) prefetch_in_background(cfg, opts, std::move(ahead));
  return code;
}

}  // namespace pgship::agent
