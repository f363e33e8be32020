#include "pipeline/list_tee.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "child_process.hpp"
#include "pipeline/verify.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

// A table of contents is a few MiB at most; pg_restore not reading that much means it is
// stuck or not started, and memory must not grow with the database.
constexpr std::size_t pending_limit = 64 * 1024 * 1024;

}  // namespace

list_tee::list_tee(io::sink& next, net::any_io_executor ex) : filter(next), wake_(std::move(ex)) {}

std::error_code list_tee::write(std::span<const char> data) {
  if (copying_) {
    if (pending_.size() + data.size() > pending_limit) {
      copying_ = false;
      gave_up_ = true;
      problem_ = "pg_restore --list did not keep up with the dump";
      pending_.clear();
    } else {
      pending_.insert(pending_.end(), data.begin(), data.end());
      wake();
    }
  }
  return next_.write(data);
}

std::error_code list_tee::finish() {
  input_ended();
  return next_.finish();
}

void list_tee::input_ended() {
  ended_ = true;
  wake();
}

void list_tee::stop() {
  copying_ = false;
  ended_ = true;
  pending_.clear();
  wake();
}

void list_tee::wake() {
  if (waiting_) wake_.cancel();
}

net::awaitable<void> list_tee::run(const pg_tool& pg_restore) {
  stdin_feeder feeder = [this](net::writable_pipe& in) -> net::awaitable<std::error_code> {
    // The dump appends to pending_ while a write is in flight: the write gets its own buffer.
    std::vector<char> flight;
    for (;;) {
      if (!pending_.empty()) {
        flight.clear();
        flight.swap(pending_);
        auto [ec, n] =
            co_await net::async_write(in, net::buffer(flight), net::as_tuple(net::use_awaitable));
        (void)n;
        if (ec) {  // pg_restore has what it needs (or failed): copy no more
          copying_ = false;
          pending_.clear();
          co_return std::error_code{};
        }
        continue;
      }
      if (ended_ || !copying_) co_return std::error_code{};
      waiting_ = true;
      wake_.expires_at(net::steady_timer::time_point::max());
      co_await wake_.async_wait(net::as_tuple(net::use_awaitable));
      waiting_ = false;
    }
  };
  child_spec spec;
  spec.program = pg_restore.path;
  spec.args = {"--list"};
  const auto result =
      co_await run_child(spec, count_toc_entries(entries_), nullptr, std::move(feeder));
  if (gave_up_) co_return;
  listed_ = result.ok();
  if (!listed_) {
    const auto why = result.last_error_line();
    problem_ = "pg_restore --list rejected the archive (" + result.describe() + ")" +
               (why.empty() ? "" : ": " + why);
  }
}

}  // namespace pgship::agent
