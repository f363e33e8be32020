#include "pipeline/list_tee.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
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
      problem_ = "the listing did not keep up with the archive being written";
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
  child_spec spec;
  spec.program = pg_restore.path;
  spec.args = {"--list"};
  // Named first: GCC 12 mishandles temporaries built inside a co_await expression.
  auto out = count_toc_entries(entries_);
  std::string what = "pg_restore --list";
  co_await run(std::move(spec), std::move(out), std::move(what));
}

net::awaitable<void> list_tee::run(child_spec spec, stdout_sink out, std::string what) {
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
  const auto result = co_await run_child(spec, std::move(out), nullptr, std::move(feeder));
  if (gave_up_) co_return;
  listed_ = result.ok();
  if (!listed_) {
    const auto why = result.last_error_line();
    problem_ = what + " rejected the archive (" + result.describe() + ")" +
               (why.empty() ? "" : ": " + why);
  }
}

net::awaitable<child_result> run_with_listing(list_tee& tee, const child_spec& producer,
                                              stdout_sink sink,
                                              std::shared_ptr<child_handle> handle,
                                              std::function<net::awaitable<void>()> list) {
  child_result result;
  auto produce_task = [&]() -> net::awaitable<void> {
    result = co_await run_child(producer, std::move(sink), handle);
    if (result.ok()) {
      tee.input_ended();
    } else {
      tee.stop();
    }
  };
  const auto executor = co_await net::this_coro::executor;
  auto produce_op = net::co_spawn(executor, produce_task(), net::deferred);
  auto list_op = net::co_spawn(executor, list(), net::deferred);
  auto [order, e1, e2] =
      co_await net::experimental::make_parallel_group(std::move(produce_op), std::move(list_op))
          .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
  (void)order;
  if (e1) std::rethrow_exception(e1);
  if (e2) std::rethrow_exception(e2);
  co_return result;
}

}  // namespace pgship::agent
