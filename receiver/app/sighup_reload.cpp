#include "app/sighup_reload.hpp"
#include <functional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/config.hpp>
#include <pgship/common/log.hpp>

#include "app/tls_context.hpp"
#include "policy/retention.hpp"

namespace pgship::receiver {

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
      // What `pgship-receiver retention` deleted beside this server leaves the archive's index.
      std::function<void()> reread = [&ctx] { reread_wal_index(*ctx); };
      co_await ctx->on_storage_thread(reread);
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

}  // namespace pgship::receiver
