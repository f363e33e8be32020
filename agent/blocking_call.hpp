#pragma once
// libpq blocks, and the daemon's single io thread must keep answering /health and /metrics
// while a long query (a drill's count(*) of every table) runs: such work gets a thread of
// its own, and the coroutine waits for it without blocking the executor.

#include <functional>

#include <boost/asio/awaitable.hpp>

namespace pgship::agent {

/// Runs `work` on a new thread and resumes the caller on its own executor once it returned.
/// `work` must not throw; to stop it early, cancel what it waits on (a query's canceller).
boost::asio::awaitable<void> run_on_own_thread(std::function<void()> work);

}  // namespace pgship::agent
