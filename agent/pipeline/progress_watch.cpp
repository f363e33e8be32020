#include "pipeline/progress_watch.hpp"
#include <chrono>
#include <cmath>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <pgship/common/json_text.hpp>

namespace pgship::agent {

namespace net = boost::asio;

std::optional<progress_mode> parse_progress_mode(std::string_view text, bool terminal) {
  if (text == "auto") return terminal ? progress_mode::line : progress_mode::never;
  if (text == "always") return progress_mode::line;
  if (text == "never") return progress_mode::never;
  if (text == "json") return progress_mode::json;
  return std::nullopt;
}

bool stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

std::string progress_json(std::string_view command, const progress_view& v) {
  boost::json::object o{{"command", command},
                        {"database", v.database},
                        {"stage", v.stage},
                        {"bytes", v.bytes},
                        {"stage_seconds", std::round(v.stage_seconds * 10) / 10},
                        {"bytes_per_second", std::llround(v.bytes_per_second)}};
  if (v.total > 0) o["total"] = v.total;
  if (v.eta_seconds) o["eta_seconds"] = std::llround(*v.eta_seconds);
  return json_text(o);
}

std::string progress_line(std::string_view command, const progress_view& v) {
  std::string line = fmt::format("{} {}: {}", command, v.database, v.stage);
  const bool counts_bytes = v.total > 0 || v.bytes > 0;
  if (counts_bytes) {
    line += " " + format_size(v.bytes);
    if (v.total > 0) {
      // A database's size is an estimate of what a dump writes: it may be passed.
      line += v.total >= v.bytes
                  ? fmt::format(" of {} ({}%)", format_size(v.total), v.bytes * 100 / v.total)
                  : fmt::format(" (estimate {} passed)", format_size(v.total));
    }
    line += fmt::format(", {}/s", format_size(static_cast<std::uint64_t>(v.bytes_per_second)));
    if (v.total > 0) line += ", ETA " + (v.eta_seconds ? format_duration(*v.eta_seconds) : "?");
  }
  line += " [" + format_duration(v.stage_seconds) + "]";
  return line;
}

struct progress_watch::state {
  state(net::any_io_executor ex, const live_progress& p, progress_mode m, std::string c,
        log::context l)
      : timer(std::move(ex)), progress(p), mode(m), command(std::move(c)), lg(std::move(l)) {}

  void tick() {
    if (progress.stage.empty()) return;
    const auto v = meter.sample(progress, progress_meter::clock::now());
    if (const auto& stall = meter.stalled()) {
      lg.with({{"database", stall->database}, {"stage", stall->stage}})
          .warn("{} of {} has made no progress for {:.0f} s (at {})", stall->stage, stall->database,
                stall->seconds, format_size(stall->bytes));
      stalls.push_back(*stall);
    }
    if (mode == progress_mode::json) {
      log::write_stderr_line(progress_json(command, v));
    } else if (mode == progress_mode::line) {
      shown = true;
      log::set_status_line(progress_line(command, v));
    }
  }

  net::steady_timer timer;
  const live_progress& progress;
  progress_mode mode;
  std::string command;
  log::context lg;
  progress_meter meter;
  bool shown = false;  // a status line is on screen
  std::vector<stall_note> stalls;
  bool stopped = false;
};

progress_watch::progress_watch(net::any_io_executor ex, const live_progress& progress,
                               progress_mode mode, std::string command, log::context lg)
    : state_(std::make_shared<state>(ex, progress, mode, std::move(command), std::move(lg))) {
  net::co_spawn(ex, watch(state_), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& failure) {
      log::write(spdlog::level::err, std::string("progress watch failed: ") + failure.what(), {});
    }
  });
}

progress_watch::~progress_watch() {
  stop();
}

void progress_watch::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  state_->timer.cancel();
  // The command's own summary follows: the status line makes way for it.
  if (state_->shown) log::set_status_line({});
}

std::vector<stall_note> progress_watch::stalls() const {
  return state_->stalls;
}

net::awaitable<void> progress_watch::watch(std::shared_ptr<state> s) {
  while (!s->stopped) {
    s->timer.expires_after(std::chrono::seconds(1));
    co_await s->timer.async_wait(net::as_tuple(net::use_awaitable));
    // Stopped: the progress it watches may be gone.
    if (s->stopped) co_return;
    s->tick();
  }
}

}  // namespace pgship::agent
