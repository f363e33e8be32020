#include "pipeline/row_counts.hpp"
#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgship::agent {

// The counting thread tells the coroutine waiting in finish() that it is done.
struct snapshot_counter::done_signal {
  explicit done_signal(const boost::asio::any_io_executor& ex) : channel(ex, 1) {}
  boost::asio::experimental::concurrent_channel<void(boost::system::error_code)> channel;
};

snapshot_counter::snapshot_counter(pg_connection conn) : conn_(std::move(conn)) {}

namespace {

std::uint64_t to_count(const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  (void)end;
  return ec == std::errc{} && value > 0 ? static_cast<std::uint64_t>(value) : 0;
}

}  // namespace

std::unique_ptr<snapshot_counter> snapshot_counter::begin(const pg_login& login,
                                                          stage_error& error) {
  auto conn = pg_connection::open(login, error);
  if (error) return nullptr;
  std::unique_ptr<snapshot_counter> counter(new snapshot_counter(std::move(conn)));
  // A role's timeouts must not end the transaction pg_dump imports its snapshot from (pg_dump
  // clears them for its own session).
  error = counter->conn_.execute(
      "SET statement_timeout = 0; SET lock_timeout = 0; "
      "SET idle_in_transaction_session_timeout = 0");
  if (!error) error = counter->conn_.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (error) return nullptr;
  const auto id = counter->conn_.query_value("SELECT pg_export_snapshot()", error);
  if (error || !id || id->empty()) {
    error = fail(errc::dump_failed, "cannot export a snapshot for pg_dump: " + error.message);
    return nullptr;
  }
  counter->snapshot_ = *id;
  counter->cancel_ = counter->conn_.canceller();
  return counter;
}

snapshot_counter::~snapshot_counter() {
  if (thread_.joinable()) {
    stop_ = true;
    cancel_();
    thread_.join();
  }
}

void snapshot_counter::start(const boost::asio::any_io_executor& ex) {
  done_ = std::make_unique<done_signal>(ex);
  thread_ = std::thread([this] {
    count_all();
    done_->channel.try_send(boost::system::error_code{});
  });
}

void snapshot_counter::cancel() {
  stop_ = true;
  if (thread_.joinable()) cancel_();
}

void snapshot_counter::count_all() {
  error_ = count_user_tables(conn_, stop_, true, rows_);
}

stage_error count_user_tables(pg_connection& conn, const std::atomic<bool>& stop,
                              bool in_savepoints, std::vector<table_rows>& out) {
  stage_error error;
  const auto tables = conn.query_rows(user_tables_sql, error);
  if (!tables) return error;
  for (const auto& t : *tables) {
    if (stop) return fail(errc::cancelled, "counting stopped");
    if (in_savepoints && (error = conn.execute("SAVEPOINT count_one"))) return error;
    const auto sql =
        "SELECT count(*) FROM " + conn.quote_identifier(t[0]) + "." + conn.quote_identifier(t[1]);
    const auto n = conn.query_value(sql, error);
    if (!n) {
      error.message = "counting " + t[0] + "." + t[1] + ": " + error.message;
      if (in_savepoints) conn.execute("ROLLBACK TO SAVEPOINT count_one");
      return error;
    }
    if (in_savepoints) conn.execute("RELEASE SAVEPOINT count_one");
    out.push_back({t[0], t[1], to_count(*n)});
  }
  return {};
}

boost::asio::awaitable<stage_error> snapshot_counter::finish(std::vector<table_rows>& out) {
  if (done_) {
    co_await done_->channel.async_receive(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  if (thread_.joinable()) thread_.join();
  conn_.execute("COMMIT");
  if (error_) co_return error_;
  out = std::move(rows_);
  co_return stage_error{};
}

stage_error estimate_rows(const pg_login& login, std::vector<table_rows>& out) {
  stage_error error;
  auto conn = pg_connection::open(login, error);
  if (error) return error;
  const auto rows = conn.query_rows(user_tables_sql, error);
  if (!rows) return error;
  out.clear();
  for (const auto& r : *rows)
    out.push_back({r[0], r[1], to_count(r[2])});
  return {};
}

}  // namespace pgship::agent
