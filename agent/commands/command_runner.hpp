#pragma once
// Runs a one-shot command's coroutine on its own io_context. The first SIGINT/SIGTERM calls
// `on_stop` (the command winds down and reports `cancelled`), a second one exits at once.

#include <functional>

#include <boost/asio/awaitable.hpp>

namespace pgship::agent {

int run_command(std::function<boost::asio::awaitable<int>()> body,
                std::function<void()> on_stop = nullptr);

}  // namespace pgship::agent
