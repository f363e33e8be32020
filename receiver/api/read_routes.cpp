#include "api/read_routes.hpp"
#include <charconv>
#include <functional>
#include <vector>

#include <pgship/common/checksum_line.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/wire.hpp>

#include "api/manifest_download.hpp"
#include "api/send_stored.hpp"
#include "policy/access.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t v = 0;
  if (text.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// Ids are validated before they come near the file system.
net::awaitable<bool> refuse_bad_id(exchange& ex, std::string_view id) {
  if (fs::is_safe_name(id)) co_return false;
  co_await ex.respond_error(http::status::bad_request, wire::api_error::invalid_id,
                            "backup ids contain only letters, digits, '.', '_' and '-'");
  co_return true;
}

net::awaitable<void> handle_list(exchange& ex, receiver_context& ctx) {
  const auto who = co_await authorize(ex, ctx, scope::read);
  if (!who) co_return;
  const auto database = ex.query_param("database");
  if (database && !fs::is_safe_name(*database)) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::invalid_database,
                              "bad database name");
    co_return;
  }
  const auto kind_text = ex.query_param("kind");
  const auto kind = kind_text ? parse_backup_kind(*kind_text) : std::nullopt;
  if (kind_text && !kind) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::invalid_kind,
                              "kind is one of dump, archive, globals, basebackup");
    co_return;
  }
  result<std::vector<backup_record>> records;
  std::function<void()> work = [&] {
    records = ctx.store->list(who->client, database);
    // ?database= names a database (or an archive): a database called globals is not the
    // cluster's globals, nor one called pgdata its base backups, which only their ?kind= (or
    // no filter) lists.
    if (records) {
      std::erase_if(*records, [&](const backup_record& r) {
        const auto k = kind_of(r);
        return kind ? k != *kind
                    : database && (k == backup_kind::globals || k == backup_kind::basebackup);
      });
    }
  };
  co_await ctx.on_storage_thread(work);
  if (!records) {
    log::write(spdlog::level::err, "list failed: " + records.error().message(),
               {{"client", who->client}});
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not list the backups");
    co_return;
  }
  co_await ex.respond_json(http::status::ok, to_json(*records));
}

net::awaitable<void> send_backup(exchange& ex, receiver_context& ctx, const backup_record& record) {
  stored_object object;
  object.what = "backup";
  object.file_name = record.id;
  object.sha256 = record.sha256;
  object.size = record.size;
  object.open = [&ctx, &record](std::uint64_t first, std::uint64_t length) {
    return ctx.store->open_range(record, first, length);
  };
  object.log_client = record.client;
  co_await send_stored(ex, ctx, object);
}

net::awaitable<void> handle_download(exchange& ex, receiver_context& ctx) {
  const auto who = co_await authorize(ex, ctx, scope::read);
  if (!who) co_return;
  std::string id(ex.params().get("id"));
  if (co_await refuse_bad_id(ex, id)) co_return;
  const bool checksum = id.ends_with(wire::download_checksum_suffix);
  const bool manifest = id.ends_with(wire::download_manifest_suffix);
  if (checksum) id.resize(id.size() - wire::download_checksum_suffix.size());
  if (manifest) id.resize(id.size() - wire::download_manifest_suffix.size());

  // A token sees only its own client's backups: another client's id is simply not found.
  result<std::optional<backup_record>> found;
  std::function<void()> work = [&] { found = ctx.store->find(who->client, id); };
  co_await ctx.on_storage_thread(work);
  if (!found) {
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not look the backup up");
    co_return;
  }
  const auto& record = *found;
  if (!record) {
    co_await ex.respond_error(http::status::not_found, wire::api_error::not_found,
                              "no backup " + id);
    co_return;
  }
  if (checksum) {
    http_server::string_response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = format_checksum_line(*digest_from_hex(record->sha256), record->id);
    co_await ex.respond(std::move(res));
    co_return;
  }
  if (manifest) {
    co_await send_manifest(ex, ctx, *record);
    co_return;
  }
  co_await send_backup(ex, ctx, *record);
}

net::awaitable<void> handle_delete(exchange& ex, receiver_context& ctx) {
  const auto who = co_await authorize(ex, ctx, scope::del);
  if (!who) co_return;
  const std::string id(ex.params().get("id"));
  if (co_await refuse_bad_id(ex, id)) co_return;
  if (ctx.cfg.append_only) {
    log::write(spdlog::level::warn, "refused DELETE: APPEND_ONLY",
               {{"client", who->client}, {"backup", id}, {"peer", ex.peer_address()}});
    co_await ex.respond_error(http::status::forbidden, wire::api_error::append_only,
                              "this receiver is append-only: backups cannot be deleted");
    co_return;
  }
  std::error_code ec;
  std::function<void()> work = [&] { ec = ctx.store->remove(who->client, id); };
  co_await ctx.on_storage_thread(work);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      co_await ex.respond_error(http::status::not_found, wire::api_error::not_found,
                                "no backup " + id);
    } else {
      co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                                ec.message());
    }
    co_return;
  }
  log::write(spdlog::level::info, "deleted on request",
             {{"client", who->client}, {"backup", id}, {"peer", ex.peer_address()}});
  ctx.metrics.refresh(*ctx.store, ctx.incoming);
  co_await ex.respond(http_server::string_response{http::status::no_content, 11});
}

}  // namespace

range_result parse_range(std::string_view header, std::uint64_t size, byte_range& out) {
  constexpr std::string_view unit = "bytes=";
  if (!header.starts_with(unit) || header.find(',') != std::string_view::npos) {
    return range_result::none;
  }
  header.remove_prefix(unit.size());
  const auto dash = header.find('-');
  if (dash == std::string_view::npos) return range_result::none;
  const auto first_text = header.substr(0, dash);
  const auto last_text = header.substr(dash + 1);
  if (first_text.empty()) {  // suffix: the last n bytes
    const auto n = parse_u64(last_text);
    if (!n) return range_result::none;
    if (*n == 0 || size == 0) return range_result::unsatisfiable;
    const auto len = std::min(*n, size);
    out = {size - len, len};
    return range_result::ok;
  }
  const auto first = parse_u64(first_text);
  if (!first) return range_result::none;
  if (*first >= size) return range_result::unsatisfiable;
  std::uint64_t last = size - 1;
  if (!last_text.empty()) {
    const auto l = parse_u64(last_text);
    if (!l || *l < *first) return range_result::none;
    last = std::min(*l, size - 1);
  }
  out = {*first, last - *first + 1};
  return range_result::ok;
}

void add_read_routes(http_server::router& routes, std::shared_ptr<receiver_context> ctx) {
  const std::string download = std::string(wire::download_prefix) + "{id}";
  routes.add(http::verb::get, wire::list_path,
             [ctx](exchange& ex) { return handle_list(ex, *ctx); });
  routes.add(http::verb::get, download, [ctx](exchange& ex) { return handle_download(ex, *ctx); });
  routes.add(http::verb::head, download, [ctx](exchange& ex) { return handle_download(ex, *ctx); });
  routes.add(http::verb::delete_, "/api/backup/{id}",
             [ctx](exchange& ex) { return handle_delete(ex, *ctx); });
}

}  // namespace pgship::receiver
