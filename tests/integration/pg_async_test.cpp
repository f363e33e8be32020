// The asynchronous libpq connection against a real PostgreSQL 15: replication commands, plain
// statements, a COPY BOTH read that a timer cancels (the connection stays usable, and closes
// cleanly), and a wrong password reported with the server's words and without the password.

#include <chrono>
#include <functional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "pg_async.hpp"
#include "pg_cluster.hpp"
#include "wal/replication_protocol.hpp"

namespace pgship::test {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using agent::pg_async;
using agent::pg_table;

agent::pg_login login_of(const pg_cluster& pg) {
  agent::pg_login l;
  l.host = pg.host();
  l.port = pg.port();
  l.user = pg.user();
  l.password = pg.password();
  l.database = "postgres";
  return l;
}

// Runs `body` on an io_context to the end; a thrown exception fails the test.
void run(std::function<net::awaitable<void>()> body) {
  net::io_context io;
  std::exception_ptr failure;
  net::co_spawn(io, std::move(body), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

net::awaitable<void> identify_system(const pg_cluster& pg) {
  pg_async conn(co_await net::this_coro::executor);
  agent::pg_async_options options;
  options.replication = true;
  auto e = co_await conn.connect(login_of(pg), options);
  EXPECT_FALSE(e) << e.message;
  std::vector<pg_table> results;
  e = co_await conn.exec("IDENTIFY_SYSTEM", results);
  EXPECT_FALSE(e) << e.message;
  EXPECT_EQ(results.size(), 1u);
  if (results.size() != 1) co_return;
  std::string why;
  const auto id = agent::wal::parse_identify_system(results[0], why);
  EXPECT_TRUE(id) << why;
  if (!id) co_return;
  EXPECT_EQ(id->timeline, 1u);
  EXPECT_GT(id->xlog_pos, 0u);
  e = co_await conn.exec("SHOW wal_segment_size", results);
  EXPECT_FALSE(e) << e.message;
  const auto size = results.empty() ? std::nullopt : agent::wal::single_value(results[0]);
  EXPECT_TRUE(size && agent::wal::parse_size_setting(*size)) << size.value_or("(none)");
  conn.close();
  EXPECT_FALSE(conn.is_open());
}

TEST(PgAsync, IdentifiesTheSystemOverAReplicationConnection) {
  auto& pg = pg_cluster::shared();
  run([&] { return identify_system(pg); });
  // The same system identifier as SQL reports.
  EXPECT_FALSE(
      pg.query_value("postgres", "SELECT system_identifier FROM pg_control_system()").empty());
}

net::awaitable<void> plain_statements(const pg_cluster& pg) {
  pg_async conn(co_await net::this_coro::executor);
  const agent::pg_async_options options;
  auto e = co_await conn.connect(login_of(pg), options);
  EXPECT_FALSE(e) << e.message;
  std::vector<pg_table> results;
  e = co_await conn.exec("SELECT 1 AS one, NULL::text AS nothing; SELECT 'two'", results);
  EXPECT_FALSE(e) << e.message;
  EXPECT_EQ(results.size(), 2u);
  if (results.size() == 2) {
    EXPECT_EQ(results[0].status, pg_table::state::tuples_ok);
    EXPECT_EQ(results[0].columns, (std::vector<std::string>{"one", "nothing"}));
    EXPECT_EQ(results[0].rows.at(0).at(0), "1");
    EXPECT_FALSE(results[0].rows.at(0).at(1));
    EXPECT_EQ(results[1].rows.at(0).at(0), "two");
  }
  e = co_await conn.exec("SELECT * FROM no_such_table", results);
  EXPECT_TRUE(e);
  EXPECT_NE(e.message.find("no_such_table"), std::string::npos) << e.message;
  EXPECT_EQ(conn.last_sqlstate(), "42P01");
  // A statement's error leaves the connection usable.
  EXPECT_TRUE(conn.is_open());
  e = co_await conn.exec("SELECT 2", results);
  EXPECT_FALSE(e) << e.message;
}

TEST(PgAsync, RunsStatementsAndReportsTheServersError) {
  auto& pg = pg_cluster::shared();
  run([&] { return plain_statements(pg); });
}

int walsenders(pg_cluster& pg) {
  return std::stoi(pg.query_value(
      "postgres",
      "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pgship-agent'"));
}

net::awaitable<void> read_once(pg_async* conn, std::string* message, bool* ended,
                               agent::stage_error* out) {
  *out = co_await conn->read_copy(*message, *ended);
}

net::awaitable<void> copy_read_cancelled(const pg_cluster& pg, bool& checked) {
  const auto ex = co_await net::this_coro::executor;
  pg_async conn(ex);
  agent::pg_async_options options;
  options.replication = true;
  auto e = co_await conn.connect(login_of(pg), options);
  EXPECT_FALSE(e) << e.message;
  std::vector<pg_table> results;
  e = co_await conn.exec("IDENTIFY_SYSTEM", results);
  std::string why;
  const auto id =
      results.empty() ? std::nullopt : agent::wal::parse_identify_system(results[0], why);
  EXPECT_TRUE(id) << e.message << why;
  if (!id) co_return;
  // No slot: streaming from the current position, where the server has nothing to send.
  const std::string start = "START_REPLICATION PHYSICAL " + pgship::wal::format_lsn(id->xlog_pos) +
                            " TIMELINE " + std::to_string(id->timeline);
  e = co_await conn.exec(start, results);
  EXPECT_FALSE(e) << e.message;
  EXPECT_EQ(results.size(), 1u);
  EXPECT_EQ(results.empty() ? pg_table::state::other : results[0].status,
            pg_table::state::copy_both);

  // A read that a timer cancels ends promptly with errc::cancelled (messages that did arrive,
  // the server's first keepalive, are taken and the read tried again).
  bool cancelled = false;
  for (int attempt = 0; attempt < 20 && !cancelled; ++attempt) {
    std::string message;
    bool ended = false;
    agent::stage_error read_error;
    net::steady_timer timer(ex, 300ms);
    const auto started = std::chrono::steady_clock::now();
    auto read_op =
        net::co_spawn(ex, read_once(&conn, &message, &ended, &read_error), net::deferred);
    auto [order, read_ex, timer_ec] =
        co_await net::experimental::make_parallel_group(std::move(read_op),
                                                        timer.async_wait(net::deferred))
            .async_wait(net::experimental::wait_for_one(), net::use_awaitable);
    (void)timer_ec;
    EXPECT_FALSE(read_ex);
    if (order[0] == 1) {
      EXPECT_EQ(read_error.code, errc::cancelled) << read_error.message;
      EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
      cancelled = true;
    } else {
      EXPECT_FALSE(read_error) << read_error.message;
      EXPECT_FALSE(ended);
    }
  }
  EXPECT_TRUE(cancelled);

  // Still usable: a status update asking for a reply gets the server's keepalive.
  agent::wal::standby_status status;
  status.write = id->xlog_pos;
  status.send_time = agent::wal::to_pg_time(std::chrono::system_clock::now());
  status.reply_requested = true;
  const auto update = agent::wal::build_standby_status(status);
  e = co_await conn.write_copy(update);
  EXPECT_FALSE(e) << e.message;
  bool keepalive = false;
  for (int i = 0; i < 10 && !keepalive; ++i) {
    std::string message;
    bool ended = false;
    e = co_await conn.read_copy(message, ended);
    EXPECT_FALSE(e) << e.message;
    if (e || ended) break;
    const auto parsed = agent::wal::parse_server_message(
        std::as_bytes(std::span<const char>(message.data(), message.size())), why);
    keepalive = parsed && parsed->type == agent::wal::server_message::kind::keepalive;
  }
  EXPECT_TRUE(keepalive);

  e = co_await conn.end_copy(results);
  EXPECT_FALSE(e) << e.message;
  EXPECT_FALSE(results.empty());
  conn.close();
  checked = true;
}

TEST(PgAsync, ACopyReadCancelledByATimerLeavesTheConnectionUsableAndClosesCleanly) {
  auto& pg = pg_cluster::shared();
  bool checked = false;
  run([&] { return copy_read_cancelled(pg, checked); });
  EXPECT_TRUE(checked);
  // The walsender is gone once the connection is closed (it goes on its own, without a kill).
  for (int i = 0; i < 100 && walsenders(pg) > 0; ++i)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(walsenders(pg), 0);
}

net::awaitable<void> bad_password(const pg_cluster& pg, bool replication) {
  pg_async conn(co_await net::this_coro::executor);
  auto login = login_of(pg);
  login.password = "wrong-Secret-4711";
  agent::pg_async_options options;
  options.replication = replication;
  const auto e = co_await conn.connect(login, options);
  EXPECT_EQ(e.code, errc::database_auth_failed) << e.message;
  EXPECT_NE(e.message.find("password authentication failed"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("wrong-Secret-4711"), std::string::npos) << e.message;
  EXPECT_FALSE(conn.is_open());
}

TEST(PgAsync, AWrongPasswordGivesTheServersMessageWithoutThePassword) {
  auto& pg = pg_cluster::shared();
  run([&] { return bad_password(pg, false); });
  run([&] { return bad_password(pg, true); });
}

net::awaitable<void> unreachable(unsigned short port) {
  pg_async conn(co_await net::this_coro::executor);
  agent::pg_login login;
  login.host = "localhost";  // resolved by Asio
  login.port = port;
  login.user = "nobody";
  const agent::pg_async_options options;
  const auto e = co_await conn.connect(login, options);
  EXPECT_EQ(e.code, errc::database_unreachable) << e.message;
  EXPECT_NE(e.message.find("localhost:" + std::to_string(port)), std::string::npos) << e.message;
}

TEST(PgAsync, ARefusedConnectionIsUnreachable) {
  // A port nothing listens on: the cluster's own, once we know it is not this one's.
  const auto port = static_cast<unsigned short>(pg_cluster::shared().port() == 1 ? 2 : 1);
  run([&] { return unreachable(port); });
}

}  // namespace
}  // namespace pgship::test
