#include "ingest/wal/mark_put_route.hpp"
#include <functional>
#include <string>

#include <pgship/common/log.hpp>
#include <pgship/common/wire/wal.hpp>

#include "policy/retention.hpp"
#include "policy/wal_access.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;
namespace wal_wire = wire::wal;

// A mark is a few hundred bytes.
constexpr std::size_t max_mark_body = 4096;

// What the storage thread found, in the order it asks.
struct mark_step {
  std::error_code failed;
  bool system_known = false;
  bool backup_stored = false;
  bool wal_held = false;
  std::optional<wal_put_outcome> put;
};

void record_mark(receiver_context& ctx, wal_store& archive, const wal_key& key,
                 const wal_wire::basebackup_mark& mark, mark_step& out) {
  const auto meta = archive.system_meta(key);
  if (!meta) {
    out.failed = meta.error();
    return;
  }
  out.system_known = meta->has_value();
  if (!out.system_known) return;
  const auto backup = ctx.store->find(key.client, mark.id);
  if (!backup) {
    out.failed = backup.error();
    return;
  }
  out.backup_stored = backup->has_value();
  if (!out.backup_stored) return;
  const auto held =
      ctx.wal_ranges.covers(archive, key, mark.timeline, mark.start_lsn, mark.stop_lsn);
  if (!held) {
    out.failed = held.error();
    return;
  }
  out.wal_held = *held;
  if (!out.wal_held) return;
  const auto put = archive.put_basebackup_mark(key, mark);
  if (!put) {
    out.failed = put.error();
    return;
  }
  out.put = *put;
  if (*put != wal_put_outcome::conflict) ctx.wal_ranges.marked(key, mark);
}

net::awaitable<void> handle_put(exchange& ex, receiver_context& ctx) {
  wal_key key;
  wal_store* archive = co_await open_wal_archive(ex, ctx, scope::upload, key);
  if (!archive) co_return;
  const std::string id(ex.params().get("id"));
  if (!wal_mark_file_name(id)) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::invalid_name,
                              "a base backup's name is pgdata-<YYYYMMDD>-<HHMMSS>.base.tar"
                              "[.zst][.age]");
    co_return;
  }
  std::string body(max_mark_body, '\0');
  const auto [ec, n] = co_await ex.read_body_full(net::buffer(body));
  if (ec || !ex.body_done()) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_request,
                              "a completion mark is a JSON object of at most 4096 bytes");
    co_return;
  }
  body.resize(n);
  auto mark = wal_wire::decode_mark(body);
  if (!mark || (!mark->id.empty() && mark->id != id)) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_request,
                              "a completion mark is {\"timeline\", \"start_lsn\": \"X/X\", "
                              "\"stop_lsn\": \"X/X\" (start <= stop), \"stop_time\": unix ms or "
                              "UTC text}, its \"id\" (if any) the route's");
    co_return;
  }
  mark->id = id;
  mark_step step;
  std::function<void()> work = [&] { record_mark(ctx, *archive, key, *mark, step); };
  co_await ctx.on_storage_thread(work);
  const log::context lg{
      {"client", key.client}, {"system", key.system}, {"backup", id}, {"peer", ex.peer_address()}};
  if (step.failed) {
    lg.error("base backup mark not recorded: {}", step.failed.message());
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not record the mark");
    co_return;
  }
  if (!step.system_known) {
    co_await ex.respond_error(http::status::not_found, wire::api_error::not_found,
                              "no physical archive of system " + key.system);
    co_return;
  }
  if (!step.backup_stored || !step.wal_held) {
    const std::string detail = !step.backup_stored
                                   ? "base backup " + id + " is not stored"
                                   : "the archive does not hold the WAL of timeline " +
                                         std::to_string(mark->timeline) + " from " +
                                         wal::format_lsn(mark->start_lsn) + " to " +
                                         wal::format_lsn(mark->stop_lsn);
    lg.warn("base backup mark refused: {}", detail);
    co_await ex.respond_error(http::status::conflict, wire::api_error::wal_incomplete, detail);
    co_return;
  }
  if (*step.put == wal_put_outcome::conflict) {
    co_await ex.respond_error(http::status::conflict, wire::api_error::conflict,
                              "base backup " + id + " has another completion mark");
    co_return;
  }
  const bool created = *step.put == wal_put_outcome::created;
  if (created) {
    lg.info("base backup complete: WAL {} to {} of timeline {} held",
            wal::format_lsn(mark->start_lsn), wal::format_lsn(mark->stop_lsn), mark->timeline);
  }
  co_await ex.respond_json(created ? http::status::created : http::status::ok,
                           wal_wire::encode_mark(*mark));
  // A newly complete base backup may move the PITR window's anchor: older WAL can go now.
  if (created) co_await apply_retention(ctx, key.client);
}

}  // namespace

void add_wal_mark_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx) {
  const std::string pattern =
      std::string(wal_wire::prefix) + "{system}" + std::string(wal_wire::basebackups_part) + "{id}";
  routes.add(http::verb::put, pattern, [ctx](exchange& ex) { return handle_put(ex, *ctx); },
             {.body_limit = max_mark_body});
}

}  // namespace pgship::receiver
