#include "pg_async.hpp"
#include <array>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <libpq-fe.h>
#include <openssl/ssl.h>

namespace pgship::agent {

namespace net = boost::asio;
using clock = pg_async::clock;

namespace {

enum class want { read, write, either };

struct wait_outcome {
  stage_error error;
  bool readable = false;
};

pg_table to_table(PGresult* r) {
  pg_table t;
  switch (PQresultStatus(r)) {
    case PGRES_COMMAND_OK:
      t.status = pg_table::state::command_ok;
      break;
    case PGRES_TUPLES_OK:
      t.status = pg_table::state::tuples_ok;
      break;
    case PGRES_COPY_BOTH:
      t.status = pg_table::state::copy_both;
      break;
    case PGRES_COPY_IN:
      t.status = pg_table::state::copy_in;
      break;
    case PGRES_COPY_OUT:
      t.status = pg_table::state::copy_out;
      break;
    case PGRES_EMPTY_QUERY:
      t.status = pg_table::state::empty;
      break;
    default:
      t.status = pg_table::state::other;
      break;
  }
  t.command = PQcmdStatus(r);
  for (int j = 0; j < PQnfields(r); ++j)
    t.columns.emplace_back(PQfname(r, j));
  for (int i = 0; i < PQntuples(r); ++i) {
    auto& row = t.rows.emplace_back();
    for (int j = 0; j < PQnfields(r); ++j) {
      if (PQgetisnull(r, i, j)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(r, i, j), PQgetlength(r, i, j)));
      }
    }
  }
  return t;
}

// With TLS, OpenSSL can hold decrypted bytes while the socket has nothing more to read: a
// wait for readability would then sleep on a message already here.
bool tls_pending(PGconn* conn) {
  if (!PQsslInUse(conn)) return false;
  auto* ssl = static_cast<SSL*>(PQsslStruct(conn, "OpenSSL"));
  return ssl != nullptr && SSL_pending(ssl) > 0;
}

}  // namespace

struct pg_async::impl {
  explicit impl(net::any_io_executor executor) : socket(executor), timer(executor) {}

  PGconn* conn = nullptr;
  net::posix::stream_descriptor socket;
  net::steady_timer timer;
  // Each side of a COPY BOTH ends on its own: ours with PQputCopyEnd, the server's with the
  // -1 of PQgetCopyData. Both true outside a COPY.
  bool client_copy_done = true;
  bool server_copy_done = true;

  stage_error connection_error(std::string_view what) const {
    return fail(errc::database_unreachable,
                std::string(what) + ": " + libpq_reason(PQerrorMessage(conn)));
  }

  void close() {
    // libpq owns the socket: Asio lets go of it (without closing it) before PQfinish does.
    if (socket.is_open()) socket.release();
    if (conn != nullptr) PQfinish(std::exchange(conn, nullptr));
    client_copy_done = server_copy_done = true;
  }

  /// Waits for the socket as `w` says, until `deadline`. Cancellation through the awaiting
  /// operation's slot reaches the descriptor's and the timer's waits (the group forwards it).
  net::awaitable<wait_outcome> wait(want w, clock::time_point deadline) {
    using net::experimental::make_parallel_group;
    using net::experimental::wait_for_one;
    using base = net::posix::descriptor_base;
    timer.expires_at(deadline);
    wait_outcome out;
    std::size_t first = 0;
    boost::system::error_code socket_ec, timer_ec;
    bool socket_first = false;
    if (w == want::either) {
      auto [order, read_ec, write_ec, t_ec] =
          co_await make_parallel_group(socket.async_wait(base::wait_read, net::deferred),
                                       socket.async_wait(base::wait_write, net::deferred),
                                       timer.async_wait(net::deferred))
              .async_wait(wait_for_one(), net::use_awaitable);
      first = order[0];
      socket_first = first < 2;
      socket_ec = first == 0 ? read_ec : write_ec;
      timer_ec = t_ec;
      out.readable = first == 0;
    } else {
      const auto type = w == want::read ? base::wait_read : base::wait_write;
      auto [order, s_ec, t_ec] =
          co_await make_parallel_group(socket.async_wait(type, net::deferred),
                                       timer.async_wait(net::deferred))
              .async_wait(wait_for_one(), net::use_awaitable);
      first = order[0];
      socket_first = first == 0;
      socket_ec = s_ec;
      timer_ec = t_ec;
      out.readable = w == want::read;
    }
    if (socket_first && !socket_ec) co_return out;
    if (!socket_first && !timer_ec) {
      out.error = fail(errc::database_unreachable, "the server did not answer in time");
    } else if ((socket_first ? socket_ec : timer_ec) == net::error::operation_aborted) {
      out.error = fail(errc::cancelled, "cancelled");
    } else {
      out.error =
          fail(errc::database_unreachable,
               "waiting for the server: " + (socket_first ? socket_ec : timer_ec).message());
    }
    out.readable = false;
    co_return out;
  }

  /// Sends what libpq has queued. While the server does not take it, waits for either side:
  /// the server may be blocked sending to us, so what arrives is read into libpq's buffer.
  net::awaitable<stage_error> flush(clock::time_point deadline) {
    for (;;) {
      const int r = PQflush(conn);
      if (r == 0) co_return stage_error{};
      if (r < 0) co_return connection_error("sending to the server failed");
      const auto w = co_await wait(want::either, deadline);
      if (w.error) co_return w.error;
      if (w.readable && PQconsumeInput(conn) == 0)
        co_return connection_error("reading from the server failed");
    }
  }

  /// Every result of the statement in flight, up to a COPY one; the first error's message.
  net::awaitable<stage_error> collect(std::vector<pg_table>& out, std::string& sqlstate,
                                      clock::time_point deadline) {
    stage_error first_error;
    for (;;) {
      while (PQisBusy(conn)) {
        const auto w = co_await wait(want::read, deadline);
        if (w.error) co_return w.error;
        if (PQconsumeInput(conn) == 0) co_return connection_error("reading from the server failed");
      }
      PGresult* r = PQgetResult(conn);
      if (r == nullptr) break;
      const auto status = PQresultStatus(r);
      if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
          status == PGRES_NONFATAL_ERROR) {
        if (!first_error) {
          const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
          sqlstate = state == nullptr ? "" : state;
          first_error = fail(errc::database_unreachable, libpq_reason(PQresultErrorMessage(r)));
        }
      } else {
        out.push_back(to_table(r));
      }
      PQclear(r);
      if (status == PGRES_COPY_BOTH || status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
        client_copy_done = status == PGRES_COPY_OUT;
        server_copy_done = status == PGRES_COPY_IN;
        break;
      }
    }
    if (!first_error && PQstatus(conn) == CONNECTION_BAD)
      co_return connection_error("the connection was lost");
    co_return first_error;
  }
};

pg_async::pg_async(net::any_io_executor ex) : impl_(std::make_unique<impl>(std::move(ex))) {}

pg_async::~pg_async() {
  impl_->close();
}

bool pg_async::is_open() const {
  return impl_->conn != nullptr;
}

int pg_async::server_version_num() const {
  return impl_->conn == nullptr ? 0 : PQserverVersion(impl_->conn);
}

void pg_async::cancel() {
  auto& s = *impl_;
  if (s.socket.is_open()) s.socket.cancel();
  s.timer.cancel();
}

void pg_async::close() {
  impl_->close();
}

net::awaitable<stage_error> pg_async::connect(pg_login login, pg_async_options options) {
  auto& s = *impl_;
  s.close();
  sqlstate_.clear();
  const std::string port = std::to_string(login.port);
  const std::string where = login.host + ":" + port + " as \"" + login.user + "\"";
  const std::string what =
      options.replication ? "cannot open a replication connection to " + where
                          : "cannot connect to database \"" + login.database + "\" at " + where;
  // PQconnectStart would resolve the name itself, blocking: Asio resolves, libpq gets the
  // address (and the name, for TLS and .pgpass).
  std::string hostaddr;
  if (!login.host.empty() && !login.host.starts_with('/')) {
    boost::system::error_code ec;
    const auto address = net::ip::make_address(login.host, ec);
    if (!ec) {
      hostaddr = address.to_string();
    } else {
      net::ip::tcp::resolver resolver(co_await net::this_coro::executor);
      auto [resolve_ec, results] =
          co_await resolver.async_resolve(login.host, port, net::as_tuple(net::use_awaitable));
      if (resolve_ec || results.empty()) {
        co_return fail(errc::database_unreachable,
                       what + ": cannot resolve the host: " + resolve_ec.message());
      }
      hostaddr = results.begin()->endpoint().address().to_string();
    }
  }
  std::vector<const char*> keys, values;
  const auto add = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    keys.push_back(key);
    values.push_back(value.c_str());
  };
  const std::string yes = "1", idle = "60", replication = "true";
  add("host", login.host);
  add("hostaddr", hostaddr);
  add("port", port);
  add("user", login.user);
  add("password", login.password);
  if (options.replication) {
    add("replication", replication);
  } else {
    add("dbname", login.database);
  }
  add("application_name", options.application_name);
  add("keepalives", yes);
  add("keepalives_idle", idle);
  keys.push_back(nullptr);
  values.push_back(nullptr);
  s.conn = PQconnectStartParams(keys.data(), values.data(), 0);
  if (s.conn == nullptr) co_return fail(errc::internal, "libpq could not allocate a connection");
  const auto deadline = clock::now() + options.connect_timeout;
  auto poll = PQstatus(s.conn) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
  while (poll != PGRES_POLLING_OK) {
    if (poll == PGRES_POLLING_FAILED) {
      const std::string why = libpq_reason(PQerrorMessage(s.conn));
      s.close();
      co_return fail(classify_connect_failure(why), what + ": " + why);
    }
    // libpq may close one socket and open another (the next address, a TLS retry without
    // it): wrap the current one for this wait only, so a reused descriptor number is never
    // mistaken for the one Asio registered.
    boost::system::error_code ec;
    s.socket.assign(PQsocket(s.conn), ec);
    if (ec) {
      s.close();
      co_return fail(errc::database_unreachable, what + ": " + ec.message());
    }
    const auto w =
        co_await s.wait(poll == PGRES_POLLING_READING ? want::read : want::write, deadline);
    s.socket.release();
    if (w.error) {
      s.close();
      if (w.error.code == errc::cancelled) co_return w.error;
      co_return fail(errc::database_unreachable,
                     what + ": no answer within " +
                         std::to_string(options.connect_timeout.count() / 1000) + " s");
    }
    poll = PQconnectPoll(s.conn);
  }
  if (PQsetnonblocking(s.conn, 1) != 0) {
    auto e = s.connection_error(what);
    s.close();
    co_return e;
  }
  boost::system::error_code ec;
  s.socket.assign(PQsocket(s.conn), ec);
  if (ec) {
    s.close();
    co_return fail(errc::database_unreachable, what + ": " + ec.message());
  }
  co_return stage_error{};
}

net::awaitable<stage_error> pg_async::exec(std::string sql, std::vector<pg_table>& out,
                                           std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  out.clear();
  sqlstate_.clear();
  if (s.conn == nullptr) co_return fail(errc::database_unreachable, "not connected");
  const auto deadline = clock::now() + timeout;
  if (PQsendQuery(s.conn, sql.c_str()) == 0) {
    auto e = s.connection_error("cannot send the query");
    s.close();
    co_return e;
  }
  auto e = co_await s.flush(deadline);
  if (!e) e = co_await s.collect(out, sqlstate_, deadline);
  // Half a statement's exchange leaves the protocol in no known state: start afresh.
  if (e && (e.code == errc::cancelled || PQstatus(s.conn) == CONNECTION_BAD || sqlstate_.empty()))
    s.close();
  co_return e;
}

pg_async::copy_read pg_async::try_read_copy(std::string& message, stage_error& error) {
  auto& s = *impl_;
  if (s.conn == nullptr) {
    error = fail(errc::database_unreachable, "not connected");
    return copy_read::failed;
  }
  char* buffer = nullptr;
  int n = PQgetCopyData(s.conn, &buffer, 1);
  if (n == 0) {
    if (PQconsumeInput(s.conn) == 0) {
      error = s.connection_error("reading from the server failed");
      return copy_read::failed;
    }
    n = PQgetCopyData(s.conn, &buffer, 1);
  }
  if (n > 0) {
    message.assign(buffer, static_cast<std::size_t>(n));
    PQfreemem(buffer);
    return copy_read::message;
  }
  if (n == 0) return copy_read::would_block;
  if (n == -1) {
    s.server_copy_done = true;
    return copy_read::ended;
  }
  error = s.connection_error("the COPY stream failed");
  return copy_read::failed;
}

net::awaitable<stage_error> pg_async::wait_readable() {
  auto& s = *impl_;
  if (s.conn == nullptr) co_return fail(errc::database_unreachable, "not connected");
  if (tls_pending(s.conn)) co_return stage_error{};
  const auto w = co_await s.wait(want::read, clock::time_point::max());
  co_return w.error;
}

net::awaitable<stage_error> pg_async::read_copy(std::string& message, bool& ended) {
  ended = false;
  for (;;) {
    stage_error error;
    switch (try_read_copy(message, error)) {
      case copy_read::message:
        co_return stage_error{};
      case copy_read::ended:
        ended = true;
        co_return stage_error{};
      case copy_read::failed:
        co_return error;
      case copy_read::would_block:
        break;
    }
    if (auto e = co_await wait_readable()) co_return e;
  }
}

net::awaitable<stage_error> pg_async::write_copy(std::span<const std::byte> message,
                                                 std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  if (s.conn == nullptr) co_return fail(errc::database_unreachable, "not connected");
  const auto deadline = clock::now() + timeout;
  for (;;) {
    const int r = PQputCopyData(s.conn, reinterpret_cast<const char*>(message.data()),
                                static_cast<int>(message.size()));
    if (r == 1) break;
    if (r < 0) co_return s.connection_error("sending to the server failed");
    // 0: libpq's output buffer is full and the socket does not take more yet.
    const auto w = co_await s.wait(want::either, deadline);
    if (w.error) co_return w.error;
    if (w.readable && PQconsumeInput(s.conn) == 0)
      co_return s.connection_error("reading from the server failed");
    if (PQflush(s.conn) < 0) co_return s.connection_error("sending to the server failed");
  }
  co_return co_await s.flush(deadline);
}

net::awaitable<stage_error> pg_async::end_copy(std::vector<pg_table>& out,
                                               std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  out.clear();
  if (s.conn == nullptr) co_return fail(errc::database_unreachable, "not connected");
  const auto deadline = clock::now() + timeout;
  while (!s.client_copy_done) {
    const int r = PQputCopyEnd(s.conn, nullptr);
    if (r < 0) co_return s.connection_error("ending the COPY failed");
    if (r == 1) {
      s.client_copy_done = true;
      break;
    }
    const auto w = co_await s.wait(want::write, deadline);
    if (w.error) co_return w.error;
  }
  if (auto e = co_await s.flush(deadline)) co_return e;
  std::string discarded;
  while (!s.server_copy_done) {
    stage_error error;
    const auto state = try_read_copy(discarded, error);
    if (state == copy_read::failed) co_return error;
    if (state == copy_read::would_block) {
      const auto w = co_await s.wait(want::read, deadline);
      if (w.error) co_return w.error;
    }
  }
  co_return co_await s.collect(out, sqlstate_, deadline);
}

}  // namespace pgship::agent
