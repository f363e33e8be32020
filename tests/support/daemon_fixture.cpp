#include "daemon_fixture.hpp"
#include <iostream>
#include <sstream>

#include <boost/json/parse.hpp>
#include <signal.h>

namespace pgship::test {

namespace json = boost::json;
using namespace std::chrono_literals;

void daemon_fixture::TearDown() {
  if (daemon_.pid > 0) stop_process(daemon_.pid, SIGKILL, 5s);
  if (HasFailure()) std::cerr << "agent log:\n" << read_file(dir_ / "agent.log");
  agent_fixture::TearDown();
}

void daemon_fixture::start_daemon(const std::map<std::string, std::string>& overrides,
                                  const std::string& databases) {
  auto config = agent_config(databases, overrides);
  config.try_emplace("HEALTHCHECK_PORT", "0");
  config.try_emplace("LISTEN_ADDR", "127.0.0.1");
  config.try_emplace("SCHEDULE", "0 0 1 1 *");
  config_ = write_config(config, "daemon.env");
  auto argv = agent_argv({"run", "--config", config_.string()});
  const auto binary = argv.front();
  argv.erase(argv.begin());
  daemon_ = start_listening_process(binary, argv, {}, dir_ / "agent.log");
}

int daemon_fixture::stop_daemon(int signal) {
  const int status = stop_process(daemon_.pid, signal, 15s);
  daemon_.pid = -1;
  return status;
}

http_response daemon_fixture::get(const std::string& target) {
  return http_send(daemon_.port, {.target = target});
}

http_response daemon_fixture::post(const std::string& target,
                                   std::map<std::string, std::string> headers, std::string body) {
  return http_send(daemon_.port, {.method = boost::beast::http::verb::post,
                                  .target = target,
                                  .headers = std::move(headers),
                                  .body = std::move(body)});
}

process_result daemon_fixture::healthcheck() {
  return run_process(agent_argv({"healthcheck", "--config", config_.string()}),
                     {.env = {{"HEALTHCHECK_PORT", std::to_string(daemon_.port)}}});
}

json::array daemon_fixture::runs() {
  return json::parse(get("/api/v1/runs").body()).as_array();
}

std::string daemon_fixture::result_of(const std::string& run_id) {
  const auto res = get("/api/v1/runs/" + run_id);
  if (res.result_int() != 200) return "missing";
  return std::string(json::parse(res.body()).as_object().at("result").as_string());
}

double daemon_fixture::metric(const std::string& sample) {
  const auto body = get("/metrics").body();
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(sample + " ")) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

}  // namespace pgship::test
