#include "app/serve.hpp"
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <pgship/common/errors.hpp>
#include <pgship/common/http/server.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/redact_url.hpp>
#include <pgship/common/stop_signals.hpp>
#include <pgship/common/version.hpp>

#include "api/fleet_routes.hpp"
#include "api/read_routes.hpp"
#include "api/scrub_route.hpp"
#include "api/status_routes.hpp"
#include "api/wal/wal_read_routes.hpp"
#include "api/whoami_route.hpp"
#include "app/background_loops.hpp"
#include "app/open_storage.hpp"
#include "app/sighup_reload.hpp"
#include "app/tls_context.hpp"
#include "ingest/raw/upload_route.hpp"
#include "ingest/tus/tus_routes.hpp"
#include "ingest/wal/gap_post_route.hpp"
#include "ingest/wal/mark_put_route.hpp"
#include "ingest/wal/unit_put_route.hpp"
#include "policy/scrub.hpp"
#include "state/context.hpp"

namespace pgship::receiver {

int serve(const settings& s, std::function<settings()> reload) {
  // A client that goes away must not kill the server through a write to its closed socket.
  std::signal(SIGPIPE, SIG_IGN);
  auto ctx = std::make_shared<receiver_context>(s, open_storage(s));
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
  add_wal_put_route(routes, ctx);
  add_wal_gap_route(routes, ctx);
  add_wal_mark_route(routes, ctx);
  add_wal_read_routes(routes, ctx);
  auto scrub = std::make_shared<scrubber>(ctx);
  add_scrub_route(routes, ctx, scrub);
  add_fleet_routes(routes, ctx);

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
  // The metrics, not ctx: the sender lives inside ctx, and must not keep it alive.
  ctx->events.start(
      io.get_executor(), s.webhook,
      [metrics = &ctx->metrics](std::string_view result) { metrics->webhook_delivery(result); });
  tcp::endpoint bound;
  try {
    bound =
        server.listen({net::ip::make_address(s.listen_addr), static_cast<unsigned short>(s.port)});
  } catch (const boost::system::system_error& e) {
    throw config::config_error("cannot listen on " + s.listen_addr + ":" + std::to_string(s.port) +
                               ": " + e.code().message());
  }
  // SIGTERM/SIGINT, or a background loop that throws: in-flight requests finish, then run()
  // returns; a loop that failed makes the exit code non-zero.
  const stop_control stop(io, [&](int) -> net::awaitable<void> {
    co_await server.shutdown();
    co_await ctx->events.finish(std::chrono::seconds(3));
    io.stop();
  });
  server.start(stop.supervise("http server"));
  net::co_spawn(io, housekeeping(ctx, uploads), stop.supervise("housekeeping"));
  if (ctx->store->capabilities().shared) {
    net::co_spawn(io, refresh_shared_store(ctx), stop.supervise("shared store refresh"));
  }
  if (s.scrub_interval.count() > 0 && s.scrub_rate > 0) {
    net::co_spawn(io, scrub_schedule(scrub, s.scrub_interval), stop.supervise("scrub schedule"));
  }
  if (s.webhook.enabled()) {
    net::co_spawn(io, watch_storage_space(ctx), stop.supervise("storage space events"));
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

}  // namespace pgship::receiver
