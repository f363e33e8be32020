#include "serve.hpp"
#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <set>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <spdlog/spdlog.h>

#include <pgship/common/errors.hpp>
#include <pgship/common/http/server.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/redact_url.hpp>
#include <pgship/common/stop_signals.hpp>
#include <pgship/common/version.hpp>
#include <pgship/common/whoami.hpp>
#include <pgship/common/wire/paths.hpp>

#include "context.hpp"
#include "read_routes.hpp"
#include "scrub.hpp"
#include "status_routes.hpp"
#include "tus_routes.hpp"
#include "upload_commit.hpp"
#include "upload_route.hpp"
#include "whoami_route.hpp"

namespace pgship::receiver {
namespace {

std::shared_ptr<net::ssl::context> make_tls_context(const settings& s) {
  if (!s.tls_cert_file) return nullptr;
  auto tls = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                   net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
  try {
    tls->use_certificate_chain_file(s.tls_cert_file->string());
    tls->use_private_key_file(s.tls_key_file->string(), net::ssl::context::pem);
    if (s.tls_client_ca_file) {
      tls->load_verify_file(s.tls_client_ca_file->string());
      tls->set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
    }
  } catch (const boost::system::system_error& e) {
    throw config::config_error("TLS_CERT_FILE/TLS_KEY_FILE/TLS_CLIENT_CA_FILE: cannot load: " +
                               std::string(e.what()));
  }
  return tls;
}

// Retention for every client and database the store holds.
net::awaitable<void> apply_all_retention(receiver_context& ctx) {
  std::function<void()> work = [&ctx] {
    ctx.store->refresh();
    for (const auto& [client, usage] : ctx.store->usage()) {
      std::vector<backup_record> records;
      if (ctx.store->list(client, std::nullopt, records)) continue;
      std::set<std::string> databases;
      for (const auto& r : records)
        databases.insert(r.database);
      for (const auto& db : databases)
        apply_retention_now(ctx, client, db);
    }
  };
  co_await ctx.on_storage_thread(work);
}

// A store other replicas write too: usage (quota, metrics) is read from it again this often.
constexpr auto shared_store_refresh = std::chrono::seconds(10);

net::awaitable<void> refresh_shared_store(std::shared_ptr<receiver_context> ctx) {
  net::steady_timer timer(co_await net::this_coro::executor);
  std::function<void()> work = [&ctx] {
    if (const auto ec = ctx->store->refresh()) {
      spdlog::warn("cannot re-read the storage listing: {}", ec.message());
    }
  };
  while (true) {
    timer.expires_after(shared_store_refresh);
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    co_await ctx->on_storage_thread(work);
    ctx->metrics.refresh(*ctx->store, ctx->incoming);
  }
}

// Removes resumable uploads nobody touched for UPLOAD_EXPIRY, and applies retention, hourly
// (and once shortly after start).
net::awaitable<void> housekeeping(std::shared_ptr<receiver_context> ctx,
                                  std::shared_ptr<tus_uploads> uploads) {
  net::steady_timer timer(co_await net::this_coro::executor);
  auto interval = std::chrono::seconds(5);
  while (true) {
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    expire_tus_uploads(*uploads);
    co_await apply_all_retention(*ctx);
    ctx->metrics.refresh(*ctx->store, ctx->incoming);
    interval = std::min<std::chrono::seconds>(
        std::chrono::hours(1), std::chrono::duration_cast<std::chrono::seconds>(
                                   ctx->cfg.upload_expiry / 4 + std::chrono::seconds(1)));
  }
}

// SIGHUP: the tokens (BACKUP_API_TOKEN, API_TOKENS_FILE) and the TLS certificate, key and
// client CA are read again. Requests in flight keep what they started with; anything that does
// not load is logged and the old settings stay. The process never dies of it.
net::awaitable<void> reload_on_sighup(net::signal_set& hup, std::shared_ptr<receiver_context> ctx,
                                      http_server::server& server, const settings& started,
                                      std::function<settings()> reload) {
  for (;;) {
    auto [ec, signal] = co_await hup.async_wait(net::as_tuple(net::use_awaitable));
    (void)signal;
    if (ec) co_return;
    try {
      if (!reload) throw config::config_error("this receiver was started without a configuration");
      const auto fresh = reload();
      auto tokens = token_store::load(fresh.backup_api_token, fresh.api_tokens_file);
      if (tokens.empty()) {
        throw config::config_error("no tokens: BACKUP_API_TOKEN and API_TOKENS_FILE are empty");
      }
      if (fresh.tls_cert_file.has_value() != started.tls_cert_file.has_value()) {
        throw config::config_error("switching between HTTP and HTTPS needs a restart");
      }
      auto tls = make_tls_context(fresh);  // loaded in full before anything is replaced
      const auto count = tokens.size();
      ctx->replace_tokens(std::move(tokens));
      if (tls) server.set_tls(std::move(tls));
      pgship::log::write(spdlog::level::info,
                         "reloaded on SIGHUP: " + std::to_string(count) + " tokens" +
                             (started.tls_cert_file ? ", TLS certificate and key" : ""),
                         {});
    } catch (const std::exception& e) {
      pgship::log::write(
          spdlog::level::err,
          std::string("reload on SIGHUP refused, the old settings stay: ") + e.what(), {});
    }
  }
}

}  // namespace

int serve(const settings& s, std::function<settings()> reload) {
  // A client that goes away must not kill the server through a write to its closed socket.
  std::signal(SIGPIPE, SIG_IGN);
  auto ctx = std::make_shared<receiver_context>(s);
  if (ctx->tokens()->empty()) {
    throw config::config_error(
        "no tokens: set BACKUP_API_TOKEN (or BACKUP_API_TOKEN_FILE) or API_TOKENS_FILE");
  }

  http_server::router routes;
  add_status_routes(routes, ctx);
  add_upload_route(routes, ctx);
  auto uploads = add_tus_routes(routes, ctx);
  add_read_routes(routes, ctx);
  add_whoami_route(routes, ctx);
  auto scrub = std::make_shared<scrubber>(ctx);
  add_scrub_route(routes, ctx, scrub);

  http_server::server_options options;
  options.idle_timeout = s.idle_timeout;
  options.server_header = std::string("pgship-receiver/") + version;
  options.tls = make_tls_context(s);
  options.max_connections_per_ip = s.max_connections_per_ip;
  // Counted each time, logged at most once a second: a flood must not flood the log too.
  options.on_connection_refused =
      [ctx, last = std::make_shared<std::atomic<std::int64_t>>(0)](std::string_view peer) {
        ctx->metrics.rate_limited("connections");
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
        if (last->exchange(now) == now) return;
        pgship::log::write(spdlog::level::warn,
                           "connection refused: too many open from " + std::string(peer),
                           {{"peer", std::string(peer)}, {"reason", "connections"}});
      };
  options.on_request = [ctx](const http_server::access_record& r) {
    ctx->metrics.request(r.method, r.status, r.duration.count());
  };

  net::io_context io;
  // Installed before anything else: SIGHUP's default action would end the process.
  net::signal_set hup(io, SIGHUP);
  http_server::server server(io.get_executor(), std::move(routes), std::move(options));
  tcp::endpoint bound;
  try {
    bound =
        server.listen({net::ip::make_address(s.listen_addr), static_cast<unsigned short>(s.port)});
  } catch (const boost::system::system_error& e) {
    throw config::config_error("cannot listen on " + s.listen_addr + ":" + std::to_string(s.port) +
                               ": " + e.code().message());
  }
  server.start();
  // SIGTERM/SIGINT, or a background loop that throws: in-flight requests finish, then run()
  // returns; a loop that failed makes the exit code non-zero.
  const stop_control stop(io, [&](int) -> net::awaitable<void> {
    co_await server.shutdown();
    io.stop();
  });
  net::co_spawn(io, housekeeping(ctx, uploads), stop.supervise("housekeeping"));
  if (ctx->store->capabilities().shared) {
    net::co_spawn(io, refresh_shared_store(ctx), stop.supervise("shared store refresh"));
  }
  if (s.scrub_interval.count() > 0 && s.scrub_rate > 0) {
    net::co_spawn(io, scrub_schedule(scrub, s.scrub_interval), stop.supervise("scrub schedule"));
  }
  net::co_spawn(io, reload_on_sighup(hup, ctx, server, s, reload), stop.supervise("SIGHUP reload"));
  // The actual listening port goes to stdout so scripts and tests can find it with PORT=0.
  const auto where = s.s3 ? "s3 bucket " + s.s3_bucket + (s.s3_prefix.empty() ? "" : "/") +
                                s.s3_prefix + " at " + redact_url(s.s3_endpoint) + ", spool " +
                                s.storage_dir.string()
                          : s.storage_dir.string();
  spdlog::info("pgship-receiver {} listening on {}:{} ({}), storage {}", version,
               bound.address().to_string(), bound.port(), s.tls_cert_file ? "https" : "http",
               where);
  std::printf("listening on %s:%u\n", bound.address().to_string().c_str(), bound.port());
  std::fflush(stdout);

  // Two threads: one may block briefly in a file-system call while the other keeps serving.
  std::thread second([&io] { io.run(); });
  io.run();
  second.join();
  // Storage work still running (an S3 commit) finishes while its io_context still exists.
  ctx->storage_pool.join();
  ctx->hash_pool.join();
  spdlog::info("pgship-receiver stopped");
  return stop.exit_code();
}

namespace {

// One GET on `stream`; prints the body, returns the status.
template <class Stream>
http::status ask(Stream& stream, const std::string& host, std::string_view path) {
  http::request<http::empty_body> req{http::verb::get, path, 11};
  // An IPv6 literal goes in brackets: our server refuses a Host that is not host[:port].
  req.set(http::field::host, host.find(':') == std::string::npos ? host : "[" + host + "]");
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  std::printf("%s\n", res.body().c_str());
  return res.result();
}

// GET `path` from the server `s` configures, over loopback, on a fresh connection.
http::status ask_local(const settings& s, std::string_view path) {
  net::io_context io;
  const auto address = s.listen_addr == "0.0.0.0" ? std::string("127.0.0.1")
                       : s.listen_addr == "::"    ? std::string("::1")
                                                  : s.listen_addr;
  beast::tcp_stream tcp(io);
  tcp.expires_after(std::chrono::seconds(5));
  tcp.connect(tcp::endpoint(net::ip::make_address(address), static_cast<unsigned short>(s.port)));
  if (!s.tls_cert_file) return ask(tcp, address, path);
  // Our own server on loopback: the point is liveness, not the certificate. With mutual TLS
  // the server's own certificate is offered as the client certificate.
  net::ssl::context tls(net::ssl::context::tls_client);
  tls.set_verify_mode(net::ssl::verify_none);
  if (s.tls_client_ca_file) {
    tls.use_certificate_chain_file(s.tls_cert_file->string());
    tls.use_private_key_file(s.tls_key_file->string(), net::ssl::context::pem);
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), tls);
  stream.handshake(net::ssl::stream_base::client);
  return ask(stream, address, path);
}

}  // namespace

int healthcheck(const settings& s, bool full) {
  try {
    auto status = ask_local(s, full ? wire::health_path : wire::readyz_path);
    // A server older than /readyz answers 404 there: its /health is the question it can answer.
    if (!full && status == http::status::not_found) status = ask_local(s, wire::health_path);
    return status == http::status::ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pgship-receiver healthcheck: %s\n", e.what());
    return 1;
  }
}

}  // namespace pgship::receiver
