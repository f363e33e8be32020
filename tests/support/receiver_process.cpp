#include "receiver_process.hpp"
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

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
  std::vector<std::string> env_strings;
  std::map<std::string, std::string> merged;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : env_)
    merged[k] = v;
  for (const auto& [k, v] : merged)
    env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const std::string log_path = (dir_->path() / "receiver.log").string();
  const std::string binary = receiver_binary();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) ::dup2(log, 2);
    ::execle(binary.c_str(), binary.c_str(), "serve", nullptr, envp.data());
    ::_exit(127);
  }
  ::close(out[1]);
  pid_ = pid;
  ++starts_;

  // Wait for "listening on 127.0.0.1:PORT".
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline && text.find('\n') == std::string::npos) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  const auto colon = text.rfind(':');
  if (text.find("listening on") == std::string::npos || colon == std::string::npos) {
    stop(SIGKILL);
    throw std::runtime_error("receiver did not start: " + log());
  }
  port_ = static_cast<unsigned short>(std::stoi(text.substr(colon + 1)));
}

int receiver_process::stop(int signal, std::chrono::milliseconds wait) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void receiver_process::restart() {
  if (pid_ > 0) stop();
  start();
}

}  // namespace pgship::test
