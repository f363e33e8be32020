#pragma once
// `pgship-agent run` as a real daemon process beside a receiver: start it with a config,
// talk to its control API over loopback, read its metrics, stop it with a signal.

#include <csignal>
#include <filesystem>
#include <map>
#include <string>

#include <boost/json/array.hpp>

#include "agent_fixture.hpp"
#include "http_client.hpp"
#include "listening_process.hpp"

namespace pgship::test {

class daemon_fixture : public agent_fixture {
 protected:
  void TearDown() override;

  /// Starts the daemon for `databases` (HEALTHCHECK_PORT 0 on loopback, a schedule that does
  /// not fire unless `overrides` set one); its log goes to dir_/agent.log.
  void start_daemon(const std::map<std::string, std::string>& overrides,
                    const std::string& databases);
  /// Signals the daemon and returns its wait status.
  int stop_daemon(int signal = SIGTERM);

  http_response get(const std::string& target);
  http_response post(const std::string& target, std::map<std::string, std::string> headers = {},
                     std::string body = "");
  /// `pgship-agent healthcheck` as a container's HEALTHCHECK runs it.
  process_result healthcheck();
  boost::json::array runs();
  /// The result of run `run_id` ("missing" when the history has none).
  std::string result_of(const std::string& run_id);
  /// The value of one sample (`name{labels}` exactly as exported); -1 when absent.
  double metric(const std::string& sample);

  started_process daemon_;
  std::filesystem::path config_;
};

}  // namespace pgship::test
