#include "daemon/run_history.hpp"
#include <fstream>

#include <boost/json/parse.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgship/common/fs.hpp>
#include <pgship/common/json_text.hpp>
#include <pgship/common/log.hpp>

namespace pgship::agent {
namespace json = boost::json;

namespace {

std::string id_of(const json::object& o) {
  const auto* v = o.if_contains("run_id");
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The file's lock, shared by every process that writes the history (a daemon, one-shot
// commands): a read-modify-write never loses another's run. The data file itself is replaced
// by each write, so the lock lives beside it. Without it (unwritable directory) the write goes
// on unlocked, and its own failure is logged.
class history_lock {
 public:
  explicit history_lock(const std::filesystem::path& file) {
    const auto path = file.string() + ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  history_lock(const history_lock&) = delete;
  history_lock& operator=(const history_lock&) = delete;
  ~history_lock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

}  // namespace

run_history::run_history(std::filesystem::path file, std::size_t limit)
    : file_(std::move(file)), limit_(limit) {}

run_history::file_stamp run_history::stamp() const {
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) return {};
  return {static_cast<std::uint64_t>(st.st_ino), static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

int run_history::load() {
  std::lock_guard lock(mutex_);
  history_lock file_lock(file_);
  const int interrupted = read_locked(true);
  if (interrupted > 0) save_locked();
  return interrupted;
}

int run_history::read_locked(bool mark_interrupted) {
  known_ = stamp();
  ++generation_;
  std::ifstream in(file_);
  int interrupted = 0;
  std::error_code exists_ec;
  if (!in && std::filesystem::exists(file_, exists_ec)) {
    // There but unreadable (permissions after a run as another user): the runs in memory
    // stay, or the next save would write an empty history over the file.
    log::write(spdlog::level::warn, "cannot read the run history " + file_.string(), {});
    return 0;
  }
  runs_.clear();
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    auto value = json::parse(line, ec);
    if (ec || !value.is_object()) continue;  // a torn last line from a crash
    auto& o = value.as_object();
    if (const auto* r = o.if_contains("result");
        mark_interrupted && r != nullptr && r->is_string() && r->get_string() == "running") {
      o["result"] = "interrupted";
      ++interrupted;
    }
    runs_.push_back(std::move(o));  // the file is newest first
    if (runs_.size() >= limit_) break;
  }
  return interrupted;
}

void run_history::reload_locked() {
  if (stamp() == known_) return;
  history_lock file_lock(file_);
  read_locked(false);
}

void run_history::reload_if_changed() {
  std::lock_guard lock(mutex_);
  reload_locked();
}

std::uint64_t run_history::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void run_history::put(json::object run) {
  std::lock_guard lock(mutex_);
  history_lock file_lock(file_);
  // Another process's runs since the last read stay.
  if (stamp() != known_) read_locked(false);
  const auto id = id_of(run);
  for (auto it = runs_.begin(); it != runs_.end(); ++it) {
    if (id_of(*it) == id) {
      runs_.erase(it);
      break;
    }
  }
  runs_.push_front(std::move(run));
  while (runs_.size() > limit_)
    runs_.pop_back();
  save_locked();
}

std::vector<json::object> run_history::newest(std::size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<json::object> out;
  for (const auto& r : runs_) {
    if (out.size() >= limit) break;
    out.push_back(r);
  }
  return out;
}

std::optional<json::object> run_history::find(const std::string& run_id) const {
  std::lock_guard lock(mutex_);
  for (const auto& r : runs_) {
    if (id_of(r) == run_id) return r;
  }
  return std::nullopt;
}

void run_history::save_locked() {
  std::string text;
  for (const auto& r : runs_)
    text += json_text(r) + "\n";
  if (const auto ec = fs::write_file_atomically(file_, text)) {
    log::write(spdlog::level::warn,
               "cannot save run history to " + file_.string() + ": " + ec.message(), {});
  }
  known_ = stamp();
}

}  // namespace pgship::agent
