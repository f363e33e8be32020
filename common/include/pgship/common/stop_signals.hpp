#pragma once
// SIGTERM/SIGINT handling for the daemons: the first signal starts a graceful stop, a second
// one ends the process at once (an operator pressing Ctrl-C twice means it).

#include <functional>

#include <pgship/common/http/net.hpp>

namespace pgship {

/// Waits on `executor` for SIGINT or SIGTERM, then runs `graceful`. A second signal while it
/// runs exits immediately with status 128+signal.
void on_stop_signal(net::any_io_executor executor,
                    std::function<net::awaitable<void>(int)> graceful);

}  // namespace pgship
