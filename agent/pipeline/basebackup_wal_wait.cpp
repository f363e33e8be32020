#include "pipeline/basebackup_wal_wait.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgship::agent {

namespace net = boost::asio;
namespace wal_wire = wire::wal;

bool archive_covers(const wal_wire::archive_state& state, const wal_span& span) {
  for (const auto& t : state.timelines) {
    if (t.timeline != span.timeline) continue;
    for (const auto& r : t.ranges) {
      if (r.from <= span.start && r.to >= span.stop) return true;
    }
  }
  return false;
}

std::string describe_holdings(const wal_wire::archive_state& state, wal::timeline_id timeline) {
  std::string out;
  for (const auto& t : state.timelines) {
    if (t.timeline != timeline) continue;
    for (const auto& r : t.ranges) {
      out += (out.empty() ? "" : ", ") + wal::format_lsn(r.from) + "-" + wal::format_lsn(r.to);
    }
  }
  if (out.empty()) return "nothing of timeline " + std::to_string(timeline);
  return "timeline " + std::to_string(timeline) + " holds " + out;
}

net::awaitable<stage_error> wait_for_wal(wal_api& archive, const wal_wait_request& request) {
  const auto deadline = std::chrono::steady_clock::now() + request.timeout;
  net::steady_timer timer(co_await net::this_coro::executor);
  std::string last;
  auto pause = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(100), request.poll);
  for (;;) {
    wal_wire::archive_state state;
    const auto asked = co_await archive.get_state(state);
    if (asked.code == make_error_code(errc::receiver_auth_failed)) co_return asked;
    if (!asked) {
      if (archive_covers(state, request.span)) co_return stage_error{};
      last = "the receiver's archive of system " + archive.system() + ": " +
             describe_holdings(state, request.span.timeline);
    } else {
      last = asked.message;
    }
    if (request.stopping && request.stopping()) {
      co_return fail(errc::cancelled, "the base backup was cancelled while waiting for its WAL");
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    timer.expires_after(std::min<std::chrono::steady_clock::duration>(
        pause, deadline - std::chrono::steady_clock::now()));
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    pause = std::min(pause * 2, request.poll);
  }
  const auto& s = request.span;
  co_return fail(
      errc::basebackup_incomplete,
      "the receiver does not hold the WAL the base backup needs (timeline " +
          std::to_string(s.timeline) + ", " + wal::format_lsn(s.start) + " to " +
          wal::format_lsn(s.stop) + ") after " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::seconds>(request.timeout).count()) +
          " s: " + last +
          " (is a daemon with WAL_STREAM=on streaming this cluster to the receiver?)");
}

net::awaitable<stage_error> mark_complete(wal_api& archive, const mark_request& request) {
  net::steady_timer timer(co_await net::this_coro::executor);
  stage_error last;
  for (int attempt = 1;; ++attempt) {
    const auto put = co_await archive.put_mark(request.mark);
    if (!put.error || put.permanent) co_return put.error;
    last = put.error;
    if (attempt >= request.attempts) break;
    if (request.stopping && request.stopping()) {
      co_return fail(errc::cancelled, "the base backup was cancelled before its completion mark");
    }
    if (put.retry_after)
      timer.expires_after(*put.retry_after);
    else
      timer.expires_after(request.delay);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }
  co_return last;
}

}  // namespace pgship::agent
