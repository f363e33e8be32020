#include "pipeline/run_skeleton.hpp"
#include <chrono>

#include <boost/asio/this_coro.hpp>

#include "net/receiver_api.hpp"
#include "pipeline/run_log.hpp"

namespace pgship::agent {

namespace net = boost::asio;

run_skeleton::run_skeleton(const settings& cfg, run_control& control, std::string kind,
                           const std::string& run_id, std::string trigger)
    : cfg_(cfg), control_(control) {
  run_.kind = std::move(kind);
  run_.started = std::chrono::system_clock::now();
  run_.run_id = run_id.empty() ? new_run_id(run_.started) : run_id;
  run_.trigger = std::move(trigger);
  lg_ = log::context{{"run_id", run_.run_id}};
  run_log_ = open_run_log(cfg_, run_.run_id, run_.log_file);
}

stage_error run_skeleton::lock_backup_dir() {
  if (auto error = prepare_backup_dir(cfg_.backup_dir)) return error;
  return lock_.acquire(cfg_.backup_dir);
}

net::awaitable<stage_error> run_skeleton::open_receiver(std::unique_ptr<http_client>& out) {
  out = make_receiver_client(co_await net::this_coro::executor, cfg_);
  if (!out) co_return fail(errc::config_invalid, "BACKUP_API_URL is not an http(s) URL");
  co_return stage_error{};
}

net::awaitable<void> run_skeleton::step(database_run& d, std::string_view job,
                                        net::awaitable<stage_error> work) {
  if (control_.stopping()) {
    // A backup run says "run", a drill "drill".
    const std::string what = run_.kind == "drill" ? "drill" : "run";
    d.error = fail(errc::cancelled, "the " + what + " was cancelled");
  } else {
    d.error = co_await std::move(work);
  }
  d.stepped = true;
  note_database_error(run_, d, lg_, job);
}

run_record run_skeleton::finish(stage_error error) {
  return finish_run(run_, std::move(error));
}

}  // namespace pgship::agent
