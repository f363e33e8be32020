#include "tus_routes.hpp"
#include <array>
#include <charconv>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/wire/headers.hpp>
#include <pgship/common/wire/paths.hpp>
#include <pgship/common/wire/tus.hpp>

#include "body_stream.hpp"
#include "incoming_file.hpp"
#include "upload_commit.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;

namespace tus = wire::tus;
namespace tus_header = wire::tus::header;
using wire::api_error;
constexpr std::string_view base_path = wire::uploads_path;
constexpr auto checksum_mismatch = static_cast<http::status>(tus::checksum_mismatch_status);

using tus_state = tus_uploads;

http_server::string_response tus_response(http::status status) {
  http_server::string_response res{status, 11};
  res.set(tus_header::resumable, tus::version);
  return res;
}

http_server::string_response tus_error(http::status status, api_error error,
                                       std::string_view detail) {
  auto res = http_server::make_error_response(status, error, detail);
  res.set(tus_header::resumable, tus::version);
  return res;
}

// Every tus request but OPTIONS must say which protocol version it speaks.
net::awaitable<bool> refuse_wrong_version(exchange& ex) {
  if (ex.request()[tus_header::resumable] == tus::version) co_return false;
  auto res = tus_error(http::status::precondition_failed, api_error::unsupported_tus_version,
                       "Tus-Resumable: " + std::string(tus::version) + " is required");
  res.set(tus_header::version, tus::version);
  co_await ex.respond(std::move(res));
  co_return true;
}

// Every tus request but OPTIONS: a token with the upload scope, and the protocol version.
net::awaitable<std::optional<principal>> authorize_tus(exchange& ex, tus_state& st) {
  auto who = co_await authorize(ex, *st.ctx, scope::upload);
  if (!who) co_return std::nullopt;
  if (co_await refuse_wrong_version(ex)) co_return std::nullopt;
  co_return who;
}

// A tus header given twice is two uploads at once: a proxy that reads the last field sees
// another one than we would (we read the first). Refused, before anything is created or kept.
net::awaitable<bool> refuse_repeated_fields(exchange& ex) {
  constexpr std::array<std::pair<std::string_view, api_error>, 3> once{{
      {wire::tus::header::upload_length, api_error::bad_upload_length},
      {wire::tus::header::upload_defer_length, api_error::bad_upload_length},
      {wire::tus::header::upload_offset, api_error::bad_upload_offset},
  }};
  for (const auto& [name, error] : once) {
    if (ex.request().count(name) < 2) continue;
    auto res = tus_error(http::status::bad_request, error, std::string(name) + " given twice");
    co_await ex.respond(std::move(res));
    co_return true;
  }
  co_return false;
}

// The upload named in the path, if it exists and belongs to the caller (else 404: another
// client's upload is indistinguishable from none).
net::awaitable<std::optional<upload_info>> find_upload(exchange& ex, tus_state& st,
                                                       const principal& who) {
  const std::string uid(ex.params().get("uid"));
  std::optional<upload_info> info;
  if (valid_uid(uid)) info = load_info(st, uid);
  // Committed, but its state not updated (a failed write): answered as finished all the same.
  if (info && info->client == who.client) settle_if_committed(st, *info);
  if (!info || info->client != who.client) {
    co_await ex.respond(tus_error(http::status::not_found, api_error::not_found, "no such upload"));
    co_return std::nullopt;
  }
  co_return info;
}

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
    co_await ex.respond(
        tus_error(http::status::bad_request, api_error::invalid_name,
                  "metadata filename must be <database>-<YYYYMMDD>-<HHMMSS>.dump[.zst][.age] or "
                  ".tar[.zst][.age]"));
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
  std::optional<backup_record> stored;
  std::error_code find_ec;
  std::function<void()> find = [&] {
    find_ec = ctx.store->find(who->client, file_name->second, stored);
  };
  co_await ctx.on_storage_thread(find);
  if (find_ec) {
    co_await ex.respond(tus_error(http::status::internal_server_error, api_error::storage_error,
                                  "could not look the backup up"));
    co_return;
  }
  if (stored) {
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

// A PATCH to an upload already committed: a client that missed the final answer asks again
// with zero bytes at the full offset, and learns that the backup is stored.
net::awaitable<void> answer_completed(exchange& ex, const upload_info& info) {
  const auto client_offset = ex.header_u64(tus_header::upload_offset);
  const bool has_body = ex.header_u64("Content-Length").value_or(0) > 0 ||
                        ex.request().count(http::field::transfer_encoding) > 0;
  auto res = !client_offset ? tus_error(http::status::bad_request, api_error::bad_upload_offset,
                                        "Upload-Offset is required")
             : client_offset != info.length
                 ? tus_error(http::status::conflict, api_error::offset_mismatch,
                             "the upload is complete at offset " + std::to_string(info.length))
             : has_body ? tus_error(http::status::payload_too_large, api_error::upload_complete,
                                    "the upload is complete: no more bytes are taken")
                        : tus_response(http::status::no_content);
  res.set(tus_header::upload_offset, std::to_string(info.length));
  co_await ex.respond(std::move(res));
}

net::awaitable<void> handle_patch(exchange& ex, tus_state& st) {
  auto& ctx = *st.ctx;
  const auto who = co_await authorize_tus(ex, st);
  if (!who) co_return;
  if (co_await refuse_repeated_fields(ex)) co_return;
  const auto found = co_await find_upload(ex, st, *who);
  if (!found) co_return;
  auto info = std::make_optional(*found);  // a deferred length may be set below
  // A length once set is final: a PATCH that says another one is refused whole (tusd: 400).
  if (!info->deferred && ex.request().count(wire::tus::header::upload_length) > 0 &&
      ex.header_u64(wire::tus::header::upload_length) != info->length) {
    auto res =
        tus_error(http::status::bad_request, api_error::bad_upload_length,
                  "Upload-Length differs from the upload's length " + std::to_string(info->length));
    co_await ex.respond(std::move(res));
    co_return;
  }
  if (info->completed) {
    co_await answer_completed(ex, *info);
    co_return;
  }
  if (ex.request()[http::field::content_type] != tus::patch_content_type) {
    co_await ex.respond(tus_error(http::status::unsupported_media_type, api_error::bad_content_type,
                                  "PATCH bodies are application/offset+octet-stream"));
    co_return;
  }
  std::optional<sha256_digest> chunk_expected;
  if (const auto c = ex.request()[tus_header::upload_checksum]; !c.empty()) {
    if (!c.starts_with(std::string(tus::checksum_algorithm) + " ")) {
      co_await ex.respond(tus_error(http::status::bad_request, api_error::unsupported_checksum,
                                    "only the sha256 Upload-Checksum algorithm is supported"));
      co_return;
    }
    chunk_expected = digest_from_base64(c.substr(tus::checksum_algorithm.size() + 1));
    if (!chunk_expected) {
      co_await ex.respond(tus_error(http::status::bad_request, api_error::bad_checksum,
                                    "Upload-Checksum: sha256 <base64 of 32 bytes>"));
      co_return;
    }
  }
  upload_slot slot(ctx);
  if (!slot.acquired()) {
    auto res = tus_error(http::status::service_unavailable, api_error::busy,
                         "too many concurrent uploads; retry later");
    res.set(http::field::retry_after, "5");
    co_await ex.respond(std::move(res));
    co_return;
  }
  if (!st.busy.try_lock(info->uid)) {
    co_await ex.respond(
        tus_error(http::status::locked, api_error::locked, "another PATCH is in progress"));
    co_return;
  }
  busy_guard guard{st.busy, info->uid};

  const std::uint64_t offset = durable_offset(st, info->uid);
  const auto client_offset = ex.header_u64(tus_header::upload_offset);
  if (!client_offset || *client_offset != offset) {
    auto res = tus_error(http::status::conflict, api_error::offset_mismatch,
                         "Upload-Offset must be the current offset " + std::to_string(offset));
    res.set(tus_header::upload_offset, std::to_string(offset));
    guard.release();
    slot.release();
    co_await ex.respond(std::move(res));
    co_return;
  }
  // The PATCH that ends a deferred upload says how long it is and what its sha256 must be
  // (X-Content-SHA256, as on a raw upload, unless the metadata had it).
  if (info->deferred && ex.request().count(tus_header::upload_length) > 0) {
    const auto declared = ex.header_u64(tus_header::upload_length);
    const auto said = ex.request()[wire::content_sha256_header];
    const auto sha = said.empty() ? std::nullopt : digest_from_hex(said);
    std::string problem;
    auto status = http::status::bad_request;
    if (!declared || *declared < offset) {
      problem = "Upload-Length must be a number not below the offset " + std::to_string(offset);
    } else if (*declared > ctx.cfg.max_upload_bytes) {
      status = http::status::payload_too_large;
      problem = "Upload-Length is above MAX_UPLOAD_BYTES";
    } else if (!said.empty() && !sha) {
      problem = "X-Content-SHA256 must be 64 hex digits";
    } else if (!sha && !info->has_expected) {
      problem = "the PATCH that sets Upload-Length must carry X-Content-SHA256";
    } else if (sha && info->has_expected && *sha != info->expected) {
      problem = "X-Content-SHA256 differs from the metadata's sha256";
    }
    // The quota and free space, now that the length is known. A refusal is answered there,
    // under the upload's lock: it is final, no PATCH follows it at once.
    if (problem.empty()) {
      const bool refused =
          co_await refuse_over_limits(ex, ctx, who->client, declared, info->uid, offset);
      if (refused) co_return;
    }
    if (problem.empty()) {
      info->length = *declared;
      info->deferred = false;
      if (sha) info->expected = *sha;
      info->has_expected = true;
      if (const auto save_ec = save_info(st, *info)) {
        status = http::status::internal_server_error;
        problem = "storage: " + save_ec.message();
      }
    }
    if (!problem.empty()) {
      guard.release();
      slot.release();
      co_await ex.respond(tus_error(status, api_error::bad_upload_length, problem));
      co_return;
    }
  }
  // Still deferred, the upload holds no length: each PATCH holds the bytes so far plus its own
  // against the quota and the free-space reserve before a byte of it is written (a chunked one
  // write by write, in on_body). A refusal leaves the upload at its offset.
  const auto sent_length = ex.header_u64("Content-Length");
  const bool held_per_write = info->deferred && !sent_length;
  if (info->deferred && sent_length) {
    const bool refused =
        co_await refuse_over_limits(ex, ctx, who->client, offset + *sent_length, info->uid, offset);
    if (refused) co_return;
  }
  const auto room = ctx.cfg.max_upload_bytes > offset ? ctx.cfg.max_upload_bytes - offset : 0;
  ex.set_body_limit(info->deferred ? room : info->length - offset);

  auto whole = st.hashes.take(info->uid, offset);
  if (!whole) {
    // After a restart: re-read what is on disk, on the hash pool, not on an I/O thread.
    // The task is named: GCC 12 destroys a closure temporary inside co_await twice.
    auto task = [path = st.data_path(info->uid),
                 offset]() -> net::awaitable<std::optional<sha256>> {
      co_return rehash(path, offset);
    };
    whole = co_await net::co_spawn(ctx.hash_pool, std::move(task), net::use_awaitable);
  }
  incoming_file data;
  std::error_code ec;
  if (!whole) ec = std::make_error_code(std::errc::io_error);
  if (!ec) ec = data.open_at(st.data_path(info->uid), offset);
  if (!ec && chunk_expected) ec = mark_unverified_from(st, info->uid, offset);
  if (ec) {
    guard.release();
    slot.release();
    co_await ex.respond(
        tus_error(http::status::internal_server_error, api_error::storage_error, ec.message()));
    co_return;
  }
  // Snapshot for rolling the chunk back if its checksum fails.
  auto before = whole->clone();
  sha256 chunk;
  // Bytes that arrived before a cut are kept too (without a chunk checksum they count).
  body_consumer on_body = [&](std::string_view bytes, hash_pieces& to_hash) {
    if (held_per_write && out_of_space_while_streaming(ctx, who->client, info->uid,
                                                       data.size() + bytes.size(), bytes.size())) {
      ec = std::make_error_code(std::errc::no_space_on_device);
      return false;
    }
    if ((ec = data.write(bytes))) return false;
    to_hash.push_back(bytes);
    if (crossed_check_interval(data.size() - offset, bytes.size()) &&
        out_of_space_while_streaming(ctx, who->client, info->uid, data.size())) {
      ec = std::make_error_code(std::errc::no_space_on_device);
      return false;
    }
    return true;
  };
  // Only a PATCH with Upload-Checksum needs the chunk's own hash.
  std::vector<sha256*> hashers{&*whole};
  if (chunk_expected) hashers.push_back(&chunk);
  auto rate = ctx.upload_rates.for_client(who->client);  // CLIENT_MAX_RATE
  const auto body = co_await stream_body(ex, ctx.hash_pool, std::move(hashers), std::move(on_body),
                                         std::move(rate));
  const error_code read_ec = body.read_error;
  const std::uint64_t received = data.size() - offset;
  ctx.metrics.bytes_received(who->client, received);
  const log::context lg{
      {"client", who->client}, {"backup", info->file_name}, {"upload", info->uid}};

  const bool interrupted = read_ec || ec;
  const bool bad_chunk = !interrupted && chunk_expected && chunk.finish() != *chunk_expected;
  if ((interrupted && chunk_expected) || bad_chunk) {
    // A chunk with a checksum is all or nothing: keep only what could be verified.
    data.truncate(offset);
    data.sync();
    clear_unverified(st, info->uid);
    st.hashes.put(info->uid, std::move(before));
    if (bad_chunk) {
      lg.warn("PATCH checksum mismatch at offset {}: {} bytes discarded", offset, received);
      auto res = tus_error(checksum_mismatch, api_error::checksum_mismatch,
                           "Upload-Checksum does not match the body");
      res.set(tus_header::upload_offset, std::to_string(offset));
      guard.release();
      slot.release();
      co_await ex.respond(std::move(res));
      co_return;
    }
  } else {
    data.sync();
    clear_unverified(st, info->uid);
    st.hashes.put(info->uid, whole->clone());
  }
  // The bytes kept are final: the store may ship them now.
  st.staging.grew(*ctx.store, info->uid, st.data_path(info->uid), who->client, info->file_name,
                  data.size());
  if (interrupted) {
    const std::string why = read_ec ? read_ec.message() : ec.message();
    lg.info("PATCH interrupted at offset {}: {}", durable_offset(st, info->uid), why);
    // Named first: GCC 12 double-destroys temporaries of a conditional inside co_await.
    const auto status = read_ec == http::error::body_limit ? http::status::payload_too_large
                        : ec                               ? http::status::insufficient_storage
                                                           : http::status::bad_request;
    const std::string detail = read_ec == http::error::body_limit
                                   ? std::string("PATCH goes beyond Upload-Length")
                               : read_ec ? read_ec.message()
                                         : ec.message();
    auto res = tus_error(status, api_error::upload_interrupted, detail);
    guard.release();
    slot.release();
    co_await ex.respond(std::move(res));
    co_return;
  }

  const std::uint64_t new_offset = data.size();
  if (info->deferred || new_offset < info->length) {
    auto res = tus_response(http::status::no_content);
    res.set(tus_header::upload_offset, std::to_string(new_offset));
    res.set(tus_header::upload_expires, expires_at(st, info->uid));
    guard.release();
    slot.release();
    co_await ex.respond(std::move(res));
    co_return;
  }

  // Complete: check the whole file and commit. The upload's state goes only once the outcome
  // is final; after a storage error a PATCH of zero bytes at the full offset tries again.
  http::fields extra;
  extra.set(tus_header::resumable, tus::version);
  extra.set(tus_header::upload_offset, std::to_string(new_offset));
  const auto digest = whole->finish();
  data.stage(st.staging.take(info->uid));
  co_await commit_upload(ex, ctx, *who, info->file_name, data, digest, info->expected, extra,
                         /*resumable=*/true, [&](upload_end end) {
                           // After a storage error the state stays; the next PATCH rebuilds
                           // the hash from the file. A stored backup's state says so until
                           // it expires: HEAD then answers the full offset.
                           if (end == upload_end::refused) remove_upload(st, info->uid);
                           if (end == upload_end::stored) {
                             if (const auto save_ec = mark_completed(st, *info)) {
                               lg.warn("cannot record the upload's completion: {}",
                                       save_ec.message());
                             }
                           }
                           guard.release();
                           slot.release();
                         });
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
  auto st = std::make_shared<tus_uploads>();
  st->ctx = std::move(ctx);
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
