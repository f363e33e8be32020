#include "ingest/upload_commit.hpp"
#include <map>

#include <pgship/common/log.hpp>
#include <pgship/common/retention.hpp>

#include "policy/retention.hpp"

namespace pgship::receiver {

net::awaitable<upload_end> commit_upload(http_server::exchange& ex, receiver_context& ctx,
                                         const principal& who, const std::string& name,
                                         incoming_file& file, const sha256_digest& digest,
                                         const std::optional<sha256_digest>& expected,
                                         const http::fields& extra_headers, bool resumable,
                                         const std::function<void(upload_end)>& before_answer) {
  // The caller's state must be settled before the client can see the answer and act on it.
  const auto answer = [&](upload_end end, http_server::string_response res) {
    if (before_answer) before_answer(end);
    // tus 1.0: every successful PATCH is 204, the one that completes the upload too; the
    // stored record is what GET /api/backup/list shows.
    if (resumable && end == upload_end::stored) {
      res = http_server::string_response{http::status::no_content, 11};
    }
    for (const auto& f : extra_headers)
      res.set(f.name_string(), f.value());
    return ex.respond(std::move(res));
  };
  const auto json = [](http::status status, std::string body) {
    http_server::string_response res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(body);
    return res;
  };
  const log::context lg{{"client", who.client}, {"backup", name}, {"peer", ex.peer_address()}};
  const std::uint64_t size = file.size();
  if (expected && *expected != digest) {
    ctx.metrics.upload_finished(who.client, "hash_mismatch");
    file.discard();
    lg.warn("upload rejected: sha256 mismatch (expected {}, received {}, {} bytes); nothing kept",
            to_hex(*expected), to_hex(digest), size);
    co_await answer(upload_end::refused,
                    http_server::make_error_response(
                        http::status::unprocessable_entity, wire::api_error::hash_mismatch,
                        "sha256 of the received " + std::to_string(size) + " bytes is " +
                            to_hex(digest) + ", expected " + to_hex(*expected)));
    co_return upload_end::refused;
  }
  // The tus routes sync every PATCH (the offset must survive a crash); for a single upload
  // only a store that keeps the spool file needs it on disk.
  if (auto ec = resumable || ctx.store->capabilities().keeps_spool_file ? file.sync()
                                                                        : std::error_code{}) {
    if (!resumable) file.discard();
    ctx.metrics.upload_finished(who.client, "failed");
    lg.error("upload failed: fsync: {}", ec.message());
    co_await answer(upload_end::storage_error,
                    http_server::make_error_response(http::status::internal_server_error,
                                                     wire::api_error::storage_error,
                                                     "could not write the backup to disk"));
    co_return upload_end::storage_error;
  }
  file.close();

  commit_request request{file.path(), who.client, name, digest, size, file.take_staged()};
  result<commit_result> committed;
  std::function<void()> work = [&] { committed = ctx.store->commit(std::move(request)); };
  co_await ctx.on_storage_thread(work);
  if (!committed) {
    if (!resumable) file.discard();
    ctx.metrics.upload_finished(who.client, "failed");
    lg.error("upload failed: commit: {}", committed.error().message());
    co_await answer(upload_end::storage_error,
                    http_server::make_error_response(http::status::internal_server_error,
                                                     wire::api_error::storage_error,
                                                     "could not commit the backup"));
    co_return upload_end::storage_error;
  }
  file.keep();  // renamed into place, or already removed by commit()
  const auto& [outcome, record] = *committed;
  switch (outcome) {
    case commit_outcome::created:
      ctx.metrics.upload_finished(who.client, "created");
      lg.info("upload committed: {} bytes, sha256 {}", size, record.sha256);
      co_await apply_retention(ctx, who.client);
      ctx.metrics.refresh(*ctx.store, ctx.incoming);
      co_await answer(upload_end::stored, json(http::status::created, to_json(record)));
      break;
    case commit_outcome::identical:
      ctx.metrics.upload_finished(who.client, "identical");
      lg.info("upload matched the stored backup: nothing changed");
      co_await answer(upload_end::stored, json(http::status::ok, to_json(record)));
      break;
    case commit_outcome::conflict: {
      ctx.metrics.upload_finished(who.client, "conflict");
      lg.warn("upload refused: a different backup with this name is stored");
      // Under APPEND_ONLY an overwrite is a forbidden operation, not merely a conflict.
      const auto status = ctx.cfg.append_only ? http::status::forbidden : http::status::conflict;
      co_await answer(upload_end::refused,
                      http_server::make_error_response(
                          status, wire::api_error::conflict,
                          "a backup named " + name + " with a different sha256 is stored"));
      co_return upload_end::refused;
    }
  }
  co_return upload_end::stored;
}

}  // namespace pgship::receiver
