#include "ingest/tus/tus_routes.hpp"

#include <pgship/common/backup_name.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/wire/paths.hpp>

#include "ingest/incoming_file.hpp"
#include "ingest/tus/tus_patch_admission.hpp"
#include "ingest/tus/tus_patch_body.hpp"
#include "ingest/tus/tus_reply.hpp"
#include "policy/admission.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;

using wire::api_error;
constexpr std::string_view base_path = wire::uploads_path;

using tus_state = tus_service;

net::awaitable<void> handle_options(exchange& ex, tus_state& st) {
  auto res = tus_response(http::status::no_content);
  res.set(tus_header::version, tus::version);
  res.set(tus_header::extension, tus::extensions);
  res.set(tus_header::checksum_algorithm, tus::checksum_algorithm);
  res.set(tus_header::max_size, std::to_string(st.ctx->cfg.max_upload_bytes));
  co_await ex.respond(std::move(res));
}

net::awaitable<void> handle_create(exchange& ex, tus_state& st) {
  auto& ctx = *st.ctx;
  const auto who = co_await authorize_tus(ex, st);
  if (!who) co_return;
  if (co_await refuse_repeated_fields(ex)) co_return;

  // creation-defer-length: the agent creates the upload before pg_dump has written a byte;
  // the length and the whole-file sha256 come with the PATCH that sets Upload-Length.
  const bool deferred = ex.request()[tus_header::upload_defer_length] == tus::defer_length_value;
  const auto length = ex.header_u64(tus_header::upload_length);
  if (!length && !deferred) {
    co_await ex.respond(tus_error(http::status::bad_request, api_error::bad_upload_length,
                                  "Upload-Length or Upload-Defer-Length: 1 is required"));
    co_return;
  }
  if (length && deferred) {
    co_await ex.respond(tus_error(http::status::bad_request, api_error::bad_upload_length,
                                  "Upload-Length and Upload-Defer-Length exclude each other"));
    co_return;
  }
  const auto metadata = parse_upload_metadata(ex.request()[tus_header::upload_metadata]);
  if (!metadata) {
    co_await ex.respond(
        tus_error(http::status::bad_request, api_error::bad_metadata, "malformed Upload-Metadata"));
    co_return;
  }
  const auto file_name = metadata->find(std::string(tus::metadata::filename));
  const auto sha = metadata->find(std::string(tus::metadata::sha256));
  if (file_name == metadata->end() || !parse_backup_name(file_name->second)) {
    auto refusal = tus_error(http::status::bad_request, api_error::invalid_name,
                             "metadata filename must be " + backup_name_forms());
    co_await ex.respond(std::move(refusal));
    co_return;
  }
  const auto expected = sha == metadata->end() ? std::nullopt : digest_from_hex(sha->second);
  if (!expected && (!deferred || sha != metadata->end())) {
    co_await ex.respond(tus_error(http::status::bad_request, api_error::bad_checksum,
                                  "metadata sha256 (64 hex digits) is required"));
    co_return;
  }
  // Retry-safe: the same backup is already stored, so there is nothing to upload (answered
  // before the limits: a client at its quota still learns its backup arrived).
  result<std::optional<backup_record>> found;
  std::function<void()> find = [&] { found = ctx.store->find(who->client, file_name->second); };
  co_await ctx.on_storage_thread(find);
  if (!found) {
    co_await ex.respond(tus_error(http::status::internal_server_error, api_error::storage_error,
                                  "could not look the backup up"));
    co_return;
  }
  if (const auto& stored = *found) {
    if (expected && stored->sha256 == to_hex(*expected)) {
      auto res = tus_response(http::status::ok);
      res.set(http::field::content_type, "application/json");
      res.body() = to_json(*stored);
      co_await ex.respond(std::move(res));
      co_return;
    }
    co_await ex.respond(tus_error(
        ctx.cfg.append_only ? http::status::forbidden : http::status::conflict, api_error::conflict,
        "a backup named " + file_name->second + " with a different sha256 is stored"));
    co_return;
  }

  // An unfinished upload holds its whole length against the quota until it is committed,
  // terminated or expires (remove_upload releases it).
  const std::string uid = new_uid();
  quota_hold hold(ctx.quota, uid);
  if (co_await refuse_over_limits(ex, ctx, who->client, length, uid)) co_return;

  upload_info info;
  info.uid = uid;
  info.client = who->client;
  info.file_name = file_name->second;
  info.length = length.value_or(0);
  info.deferred = deferred;
  info.has_expected = expected.has_value();
  if (expected) info.expected = *expected;
  incoming_file data;
  std::error_code ec = data.create(st.data_path(info.uid));
  if (!ec) ec = data.sync();
  if (!ec) ec = save_info(st, info);
  if (ec) {
    remove_upload(st, info.uid);
    co_await ex.respond(
        tus_error(http::status::internal_server_error, api_error::storage_error, ec.message()));
    co_return;
  }
  data.keep();
  hold.dismiss();
  const log::context lg{{"client", who->client}, {"backup", info.file_name}, {"upload", info.uid}};
  if (deferred) {
    lg.info("resumable upload created, length deferred");
  } else {
    lg.info("resumable upload created: {} bytes", info.length);
  }
  auto res = tus_response(http::status::created);
  res.set(http::field::location, std::string(base_path) + "/" + info.uid);
  res.set(tus_header::upload_offset, "0");
  res.set(tus_header::upload_expires, expires_at(st, info.uid));
  co_await ex.respond(std::move(res));
}

net::awaitable<void> handle_head(exchange& ex, tus_state& st) {
  const auto who = co_await authorize_tus(ex, st);
  if (!who) co_return;
  const auto info = co_await find_upload(ex, st, *who);
  if (!info) co_return;
  auto res = tus_response(http::status::ok);
  const auto offset = info->completed ? info->length : durable_offset(st, info->uid);
  res.set(tus_header::upload_offset, std::to_string(offset));
  if (info->deferred) {
    res.set(tus_header::upload_defer_length, tus::defer_length_value);
  } else {
    res.set(tus_header::upload_length, std::to_string(info->length));
  }
  const std::string sha = info->has_expected ? to_hex(info->expected) : std::string();
  const std::string metadata = tus::encode_metadata(
      info->file_name, info->has_expected ? std::optional<std::string_view>(sha) : std::nullopt);
  res.set(tus_header::upload_metadata, metadata);
  res.set(tus_header::upload_expires, expires_at(st, info->uid));
  res.set(http::field::cache_control, "no-store");
  co_await ex.respond(std::move(res));
}

// Two jobs, one after the other: admission decides before the body is read
// (tus_patch_admission.hpp), then the body is received and, at full length, committed
// (tus_patch_body.hpp).
net::awaitable<void> handle_patch(exchange& ex, tus_state& st) {
  const auto who = co_await authorize_tus(ex, st);
  if (!who) co_return;
  if (co_await refuse_repeated_fields(ex)) co_return;
  auto info = co_await find_upload(ex, st, *who);  // a deferred length may be set below
  if (!info) co_return;
  patch_locks locks;
  const auto admitted = co_await admit_patch(ex, st, *who, *info, locks);
  if (!admitted) co_return;
  co_await receive_patch(ex, st, *who, *info, *admitted, locks);
}

net::awaitable<void> handle_delete(exchange& ex, tus_state& st) {
  const auto who = co_await authorize_tus(ex, st);
  if (!who) co_return;
  const auto info = co_await find_upload(ex, st, *who);
  if (!info) co_return;
  if (!st.busy.try_lock(info->uid)) {
    co_await ex.respond(
        tus_error(http::status::locked, api_error::locked, "a PATCH is in progress"));
    co_return;
  }
  busy_guard guard{st.busy, info->uid};
  remove_upload(st, info->uid);
  log::write(spdlog::level::info, "resumable upload abandoned",
             {{"upload", info->uid}, {"backup", info->file_name}, {"client", who->client}});
  co_await ex.respond(tus_response(http::status::no_content));
}

}  // namespace

std::shared_ptr<tus_uploads> add_tus_routes(http_server::router& routes,
                                            std::shared_ptr<receiver_context> ctx) {
  auto st = std::make_shared<tus_service>(std::move(ctx));
  remove_orphaned_data(*st);
  discard_unverified_chunks(*st);
  settle_interrupted_commits(*st);
  hold_unfinished_uploads(*st);
  const std::string item = std::string(base_path) + "/{uid}";
  routes.add(http::verb::options, std::string(base_path),
             [st](exchange& ex) { return handle_options(ex, *st); });
  routes.add(http::verb::post, std::string(base_path),
             [st](exchange& ex) { return handle_create(ex, *st); });
  routes.add(http::verb::head, item, [st](exchange& ex) { return handle_head(ex, *st); });
  routes.add(http::verb::patch, item, [st](exchange& ex) { return handle_patch(ex, *st); },
             {.body_limit = std::nullopt});
  routes.add(http::verb::delete_, item, [st](exchange& ex) { return handle_delete(ex, *st); });
  return st;
}

}  // namespace pgship::receiver
