#include "receiver_process.hpp"

#include <signal.h>

#include "listening_process.hpp"

namespace pgship::test {

std::string receiver_binary() {
  return PGSHIP_RECEIVER_BIN;
}

receiver_process::receiver_process(std::map<std::string, std::string> env)
    : dir_(std::make_unique<temp_dir>("pgship-receiver")), env_(std::move(env)) {
  storage_dir_ = dir_->path() / "storage";
  env_.try_emplace("STORAGE_DIR", storage_dir_.string());
  env_.try_emplace("PORT", "0");
  env_.try_emplace("LISTEN_ADDR", "127.0.0.1");
  env_.try_emplace("MIN_FREE_BYTES", "1M");
  storage_dir_ = env_["STORAGE_DIR"];
  start();
}

receiver_process::~receiver_process() {
  if (pid_ > 0) stop(SIGKILL);
}

std::string receiver_process::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::string receiver_process::log() const {
  return read_file(dir_->path() / "receiver.log");
}

void receiver_process::start() {
  const auto started =
      start_listening_process(receiver_binary(), {"serve"}, env_, dir_->path() / "receiver.log");
  pid_ = started.pid;
  port_ = started.port;
  ++starts_;
}

int receiver_process::stop(int signal, std::chrono::milliseconds wait) {
  const int status = stop_process(pid_, signal, wait);
  pid_ = -1;
  return status;
}

void receiver_process::restart() {
  if (pid_ > 0) stop();
  start();
}

}  // namespace pgship::test
