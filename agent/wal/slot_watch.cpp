#include "wal/slot_watch.hpp"
#include <charconv>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/log.hpp>

#include "pg_async.hpp"

namespace pgship::agent::wal {

namespace net = boost::asio;

namespace {

template <class Int>
std::optional<Int> number(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  Int v{};
  const auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || p != text->data() + text->size()) return std::nullopt;
  return v;
}

std::string literal(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

}  // namespace

std::string slot_watch_query(const std::string& slot) {
  // On a standby pg_current_wal_lsn() fails: the newest WAL there is what it received.
  return "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() "
         "ELSE pg_current_wal_lsn() END - restart_lsn)::bigint, wal_status, safe_wal_size "
         "FROM pg_replication_slots WHERE slot_name = " +
         literal(slot);
}

slot_watch::slot_watch(net::any_io_executor ex, pg_login login, std::string slot)
    : ex_(std::move(ex)), login_(std::move(login)), slot_(std::move(slot)) {
  login_.replication = false;
}

net::awaitable<void> slot_watch::run(std::function<void()> on_lost) {
  co_await net::this_coro::throw_if_cancelled(false);
  net::steady_timer pause(ex_);
  std::string reported_status;
  for (;;) {
    pg_async link(ex_);
    std::vector<pg_table> r;
    const pg_async_options options;
    auto e = co_await link.connect(login_, options);
    if (!e) e = co_await link.exec(slot_watch_query(slot_), r, std::chrono::seconds(10));
    link.close();
    if ((co_await net::this_coro::cancellation_state).cancelled() != net::cancellation_type::none)
      co_return;
    if (!e && !r.empty()) {
      slot_reading reading;
      if (!r[0].rows.empty() && r[0].rows[0].size() == 3) {
        const auto& row = r[0].rows[0];
        reading.exists = true;
        if (const auto n = number<std::int64_t>(row[0]); n && *n >= 0)
          reading.retained_bytes = static_cast<std::uint64_t>(*n);
        reading.wal_status = row[1].value_or("");
        reading.safe_wal_size = number<std::int64_t>(row[2]);
      }
      if (reading.wal_status != reported_status &&
          (reading.wal_status == "unreserved" || reading.wal_status == "lost")) {
        log::write(spdlog::level::err,
                   "the slot \"" + slot_ + "\" is " + reading.wal_status +
                       (reading.wal_status == "lost"
                            ? ": the server removed WAL it kept for the archive"
                            : ": the server is about to remove WAL it keeps for the archive "
                              "(max_slot_wal_keep_size)"),
                   {{"slot", slot_}, {"wal_status", reading.wal_status}});
      }
      reported_status = reading.wal_status;
      last_ = reading;
      if (reading.wal_status == "lost" && on_lost) on_lost();
    }
    pause.expires_after(interval);
    co_await pause.async_wait(net::as_tuple(net::use_awaitable));
    if ((co_await net::this_coro::cancellation_state).cancelled() != net::cancellation_type::none)
      co_return;
  }
}

}  // namespace pgship::agent::wal
