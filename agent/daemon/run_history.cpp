#include "daemon/run_history.hpp"
#include <fstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <pgship/common/fs.hpp>
#include <pgship/common/log.hpp>

namespace pgship::agent {
namespace json = boost::json;

namespace {

std::string id_of(const json::object& o) {
  const auto* v = o.if_contains("run_id");
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

run_history::run_history(std::filesystem::path file, std::size_t limit)
    : file_(std::move(file)), limit_(limit) {}

int run_history::load() {
  std::ifstream in(file_);
  int interrupted = 0;
  std::lock_guard lock(mutex_);
  runs_.clear();
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    auto value = json::parse(line, ec);
    if (ec || !value.is_object()) continue;  // a torn last line from a crash
    auto& o = value.as_object();
    if (const auto* r = o.if_contains("result");
        r != nullptr && r->is_string() && r->get_string() == "running") {
      o["result"] = "interrupted";
      ++interrupted;
    }
    runs_.push_back(std::move(o));  // the file is newest first
    if (runs_.size() >= limit_) break;
  }
  if (interrupted > 0) save_locked();
  return interrupted;
}

void run_history::put(json::object run) {
  std::lock_guard lock(mutex_);
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

void run_history::save_locked() const {
  std::string text;
  for (const auto& r : runs_)
    text += json::serialize(r) + "\n";
  if (const auto ec = fs::write_file_atomically(file_, text)) {
    log::write(spdlog::level::warn,
               "cannot save run history to " + file_.string() + ": " + ec.message(), {});
  }
}

}  // namespace pgship::agent
