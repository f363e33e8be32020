#include "api/manifest_download.hpp"
#include <functional>
#include <string>

#include <pgship/common/log.hpp>
#include <pgship/common/manifest_name.hpp>
#include <pgship/common/wire.hpp>

namespace pgship::receiver {

using http_server::exchange;

net::awaitable<void> send_manifest(exchange& ex, receiver_context& ctx,
                                   const backup_record& backup) {
  result<std::optional<stored_manifest>> got;
  std::function<void()> work = [&] { got = ctx.store->get_manifest(backup); };
  co_await ctx.on_storage_thread(work);
  if (!got) {
    log::write(spdlog::level::err, "manifest download failed: " + got.error().message(),
               {{"client", backup.client}, {"backup", backup.id}});
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not read the manifest");
    co_return;
  }
  auto& manifest = *got;
  if (!manifest) {
    const std::string detail = "backup " + backup.id + " has no manifest";
    co_await ex.respond_error(http::status::not_found, wire::api_error::not_found, detail);
    co_return;
  }
  const bool encrypted = manifest->name.ends_with(encrypted_manifest_suffix);
  http_server::string_response res{http::status::ok, 11};
  res.set(http::field::content_type, encrypted ? "application/octet-stream" : "application/json");
  res.set(wire::manifest_name_header, manifest->name);
  res.set(http::field::content_disposition, "attachment; filename=\"" + manifest->name + "\"");
  res.body() = std::move(manifest->bytes);
  co_await ex.respond(std::move(res));
}

}  // namespace pgship::receiver
