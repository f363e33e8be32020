#include "policy/wal_access.hpp"
#include <string>

#include <pgship/common/wire/wal.hpp>

#include "policy/access.hpp"

namespace pgship::receiver {

net::awaitable<wal_store*> open_wal_archive(http_server::exchange& ex, receiver_context& ctx,
                                            scope needed, wal_key& key) {
  const auto who = co_await authorize(ex, ctx, needed);
  if (!who) co_return nullptr;
  wal_store* archive = ctx.store->wal();
  if (!archive) {
    co_await ex.respond_error(http::status::not_implemented, wire::api_error::wal_unsupported,
                              "this receiver's storage does not keep a physical archive yet");
    co_return nullptr;
  }
  key = {who->client, std::string(ex.params().get("system"))};
  if (!wire::wal::is_system_id(key.system)) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::invalid_system,
                              "a system identifier is 1 to 20 decimal digits (IDENTIFY_SYSTEM)");
    co_return nullptr;
  }
  co_return archive;
}

}  // namespace pgship::receiver
