#include "ingest/tus/tus_patch_body.hpp"
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>

#include <pgship/common/log.hpp>

#include "ingest/body_stream.hpp"
#include "ingest/incoming_file.hpp"
#include "ingest/tus/tus_reply.hpp"
#include "ingest/upload_commit.hpp"
#include "policy/admission.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;

using wire::api_error;
constexpr auto checksum_mismatch = static_cast<http::status>(tus::checksum_mismatch_status);

// The running whole-file hash at `offset`: kept from the last PATCH, or after a restart re-read
// from what is on disk, on the hash pool, not on an I/O thread.
net::awaitable<std::optional<sha256>> whole_hash_at(tus_service& st, const std::string& uid,
                                                    std::uint64_t offset) {
  auto whole = st.hashes.take(uid, offset);
  if (whole) co_return std::move(whole);
  // The task is named: GCC 12 destroys a closure temporary inside co_await twice.
  auto task = [path = st.data_path(uid), offset]() -> net::awaitable<std::optional<sha256>> {
    co_return rehash(path, offset);
  };
  co_return co_await net::co_spawn(st.ctx->hash_pool, std::move(task), net::use_awaitable);
}

// The PATCH was cut short or its body refused: what is kept stays, the answer says why.
net::awaitable<void> answer_interrupted(exchange& ex, tus_service& st, const upload_info& info,
                                        error_code read_ec, std::error_code ec,
                                        const log::context& lg, patch_locks& locks) {
  const std::string why = read_ec ? read_ec.message() : ec.message();
  lg.info("PATCH interrupted at offset {}: {}", durable_offset(st, info.uid), why);
  // Named first: GCC 12 double-destroys temporaries of a conditional inside co_await.
  const auto status = read_ec == http::error::body_limit ? http::status::payload_too_large
                      : ec                               ? http::status::insufficient_storage
                                                         : http::status::bad_request;
  const std::string detail = read_ec == http::error::body_limit
                                 ? std::string("PATCH goes beyond Upload-Length")
                             : read_ec ? read_ec.message()
                                       : ec.message();
  auto res = tus_error(status, api_error::upload_interrupted, detail);
  locks.release();
  co_await ex.respond(std::move(res));
}

}  // namespace

net::awaitable<void> receive_patch(exchange& ex, tus_service& st, const principal& who,
                                   upload_info& info, const patch_admitted& admitted,
                                   patch_locks& locks) {
  auto& ctx = *st.ctx;
  const std::uint64_t offset = admitted.offset;
  const auto& chunk_expected = admitted.chunk_expected;
  const bool held_per_write = admitted.held_per_write;
  const auto room = ctx.cfg.max_upload_bytes > offset ? ctx.cfg.max_upload_bytes - offset : 0;
  ex.set_body_limit(info.deferred ? room : info.length - offset);

  auto whole = co_await whole_hash_at(st, info.uid, offset);
  incoming_file data;
  std::error_code ec;
  if (!whole) ec = std::make_error_code(std::errc::io_error);
  if (!ec) ec = data.open_at(st.data_path(info.uid), offset);
  if (!ec && chunk_expected) ec = mark_unverified_from(st, info.uid, offset);
  if (ec) {
    locks.release();
    co_await ex.respond(
        tus_error(http::status::internal_server_error, api_error::storage_error, ec.message()));
    co_return;
  }
  // Snapshot for rolling the chunk back if its checksum fails.
  auto before = whole->clone();
  sha256 chunk;
  // Bytes that arrived before a cut are kept too (without a chunk checksum they count).
  body_consumer on_body = [&](std::string_view bytes, hash_pieces& to_hash) {
    if (held_per_write && out_of_space_while_streaming(ctx, who.client, info.uid,
                                                       data.size() + bytes.size(), bytes.size())) {
      ec = std::make_error_code(std::errc::no_space_on_device);
      return false;
    }
    if ((ec = data.write(bytes))) return false;
    to_hash.push_back(bytes);
    if (crossed_check_interval(data.size() - offset, bytes.size()) &&
        out_of_space_while_streaming(ctx, who.client, info.uid, data.size())) {
      ec = std::make_error_code(std::errc::no_space_on_device);
      return false;
    }
    return true;
  };
  // Only a PATCH with Upload-Checksum needs the chunk's own hash.
  std::vector<sha256*> hashers{&*whole};
  if (chunk_expected) hashers.push_back(&chunk);
  auto rate = ctx.upload_rates.for_client(who.client);  // CLIENT_MAX_RATE
  const auto body = co_await stream_body(ex, ctx.hash_pool, std::move(hashers), std::move(on_body),
                                         std::move(rate));
  const error_code read_ec = body.read_error;
  const std::uint64_t received = data.size() - offset;
  ctx.metrics.bytes_received(who.client, received);
  const log::context lg{{"client", who.client}, {"backup", info.file_name}, {"upload", info.uid}};

  const bool interrupted = read_ec || ec;
  const bool bad_chunk = !interrupted && chunk_expected && chunk.finish() != *chunk_expected;
  if ((interrupted && chunk_expected) || bad_chunk) {
    // A chunk with a checksum is all or nothing: keep only what could be verified.
    data.truncate(offset);
    data.sync();
    clear_unverified(st, info.uid);
    st.hashes.put(info.uid, std::move(before));
    if (bad_chunk) {
      lg.warn("PATCH checksum mismatch at offset {}: {} bytes discarded", offset, received);
      auto res = tus_error(checksum_mismatch, api_error::checksum_mismatch,
                           "Upload-Checksum does not match the body");
      res.set(tus_header::upload_offset, std::to_string(offset));
      locks.release();
      co_await ex.respond(std::move(res));
      co_return;
    }
  } else {
    data.sync();
    clear_unverified(st, info.uid);
    st.hashes.put(info.uid, whole->clone());
  }
  // The bytes kept are final: the store may ship them now.
  st.staging.grew(*ctx.store, info.uid, st.data_path(info.uid), who.client, info.file_name,
                  data.size());
  if (interrupted) {
    co_await answer_interrupted(ex, st, info, read_ec, ec, lg, locks);
    co_return;
  }

  const std::uint64_t new_offset = data.size();
  if (info.deferred || new_offset < info.length) {
    auto res = tus_response(http::status::no_content);
    res.set(tus_header::upload_offset, std::to_string(new_offset));
    res.set(tus_header::upload_expires, expires_at(st, info.uid));
    locks.release();
    co_await ex.respond(std::move(res));
    co_return;
  }

  // Complete: check the whole file and commit. The upload's state goes only once the outcome
  // is final; after a storage error a PATCH of zero bytes at the full offset tries again.
  http::fields extra;
  extra.set(tus_header::resumable, tus::version);
  extra.set(tus_header::upload_offset, std::to_string(new_offset));
  const auto digest = whole->finish();
  data.stage(st.staging.take(info.uid));
  co_await commit_upload(ex, ctx, who, info.file_name, data, digest, info.expected, extra,
                         /*resumable=*/true, [&](upload_end end) {
                           // After a storage error the state stays; the next PATCH rebuilds
                           // the hash from the file. A stored backup's state says so until
                           // it expires: HEAD then answers the full offset.
                           if (end == upload_end::refused) remove_upload(st, info.uid);
                           if (end == upload_end::stored) {
                             if (const auto save_ec = mark_completed(st, info)) {
                               lg.warn("cannot record the upload's completion: {}",
                                       save_ec.message());
                             }
                           }
                           locks.release();
                         });
}

}  // namespace pgship::receiver
