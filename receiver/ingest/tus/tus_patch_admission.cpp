#include "ingest/tus/tus_patch_admission.hpp"
#include <string>
#include <utility>

#include <pgship/common/wire/headers.hpp>

#include "ingest/tus/tus_reply.hpp"
#include "policy/admission.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;

using wire::api_error;

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

// The headers that decide before any lock is taken. Nothing when the refusal was answered.
net::awaitable<std::optional<patch_admitted>> check_headers(exchange& ex, const upload_info& info) {
  // A length once set is final: a PATCH that says another one is refused whole (tusd: 400).
  if (!info.deferred && ex.request().count(wire::tus::header::upload_length) > 0 &&
      ex.header_u64(wire::tus::header::upload_length) != info.length) {
    auto res =
        tus_error(http::status::bad_request, api_error::bad_upload_length,
                  "Upload-Length differs from the upload's length " + std::to_string(info.length));
    co_await ex.respond(std::move(res));
    co_return std::nullopt;
  }
  if (info.completed) {
    co_await answer_completed(ex, info);
    co_return std::nullopt;
  }
  if (ex.request()[http::field::content_type] != tus::patch_content_type) {
    co_await ex.respond(tus_error(http::status::unsupported_media_type, api_error::bad_content_type,
                                  "PATCH bodies are application/offset+octet-stream"));
    co_return std::nullopt;
  }
  patch_admitted admitted;
  if (const auto c = ex.request()[tus_header::upload_checksum]; !c.empty()) {
    if (!c.starts_with(std::string(tus::checksum_algorithm) + " ")) {
      co_await ex.respond(tus_error(http::status::bad_request, api_error::unsupported_checksum,
                                    "only the sha256 Upload-Checksum algorithm is supported"));
      co_return std::nullopt;
    }
    admitted.chunk_expected = digest_from_base64(c.substr(tus::checksum_algorithm.size() + 1));
    if (!admitted.chunk_expected) {
      co_await ex.respond(tus_error(http::status::bad_request, api_error::bad_checksum,
                                    "Upload-Checksum: sha256 <base64 of 32 bytes>"));
      co_return std::nullopt;
    }
  }
  co_return admitted;
}

// A place among the concurrent uploads, then the upload's lock. False when refused (answered).
net::awaitable<bool> take_locks(exchange& ex, tus_service& st, const upload_info& info,
                                patch_locks& locks) {
  locks.slot.emplace(*st.ctx);
  if (!locks.slot->acquired()) {
    auto res = tus_error(http::status::service_unavailable, api_error::busy,
                         "too many concurrent uploads; retry later");
    res.set(http::field::retry_after, "5");
    co_await ex.respond(std::move(res));
    co_return false;
  }
  if (!st.busy.try_lock(info.uid)) {
    co_await ex.respond(
        tus_error(http::status::locked, api_error::locked, "another PATCH is in progress"));
    co_return false;
  }
  locks.guard.emplace(st.busy, info.uid);
  co_return true;
}

// The PATCH that ends a deferred upload says how long it is and what its sha256 must be
// (X-Content-SHA256, as on a raw upload, unless the metadata had it). False when refused
// (answered); else `info` holds the length, saved.
net::awaitable<bool> set_deferred_length(exchange& ex, tus_service& st, const principal& who,
                                         upload_info& info, std::uint64_t offset,
                                         patch_locks& locks) {
  auto& ctx = *st.ctx;
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
  } else if (!sha && !info.has_expected) {
    problem = "the PATCH that sets Upload-Length must carry X-Content-SHA256";
  } else if (sha && info.has_expected && *sha != info.expected) {
    problem = "X-Content-SHA256 differs from the metadata's sha256";
  }
  // The quota and free space, now that the length is known. The upload's lock is given back
  // before a refusal is sent: the client may try again (or otherwise) the moment it reads it.
  const std::function<void()> release_locks = [&locks] { locks.release(); };
  if (problem.empty()) {
    const bool refused =
        co_await refuse_over_limits(ex, ctx, who.client, declared, info.uid, offset, release_locks);
    if (refused) co_return false;
  }
  if (problem.empty()) {
    info.length = *declared;
    info.deferred = false;
    if (sha) info.expected = *sha;
    info.has_expected = true;
    if (const auto save_ec = save_info(st, info)) {
      status = http::status::internal_server_error;
      problem = "storage: " + save_ec.message();
    }
  }
  if (!problem.empty()) {
    locks.release();
    co_await ex.respond(tus_error(status, api_error::bad_upload_length, problem));
    co_return false;
  }
  co_return true;
}

}  // namespace

net::awaitable<std::optional<patch_admitted>> admit_patch(exchange& ex, tus_service& st,
                                                          const principal& who, upload_info& info,
                                                          patch_locks& locks) {
  auto admitted = co_await check_headers(ex, info);
  if (!admitted) co_return std::nullopt;
  if (!co_await take_locks(ex, st, info, locks)) co_return std::nullopt;

  const std::uint64_t offset = durable_offset(st, info.uid);
  const auto client_offset = ex.header_u64(tus_header::upload_offset);
  if (!client_offset || *client_offset != offset) {
    auto res = tus_error(http::status::conflict, api_error::offset_mismatch,
                         "Upload-Offset must be the current offset " + std::to_string(offset));
    res.set(tus_header::upload_offset, std::to_string(offset));
    locks.release();
    co_await ex.respond(std::move(res));
    co_return std::nullopt;
  }
  admitted->offset = offset;
  if (info.deferred && ex.request().count(tus_header::upload_length) > 0) {
    if (!co_await set_deferred_length(ex, st, who, info, offset, locks)) co_return std::nullopt;
  }
  // Still deferred, the upload holds no length: each PATCH holds the bytes so far plus its own
  // against the quota and the free-space reserve before a byte of it is written (a chunked one
  // write by write, while the body streams). A refusal leaves the upload at its offset.
  const auto sent_length = ex.header_u64("Content-Length");
  admitted->held_per_write = info.deferred && !sent_length;
  if (info.deferred && sent_length) {
    const std::function<void()> release_locks = [&locks] { locks.release(); };
    const bool refused = co_await refuse_over_limits(ex, *st.ctx, who.client, offset + *sent_length,
                                                     info.uid, offset, release_locks);
    if (refused) co_return std::nullopt;
  }
  co_return admitted;
}

}  // namespace pgship::receiver
