#include "ingest/raw/upload_route.hpp"
#include <charconv>
#include <functional>
#include <optional>
#include <vector>

#include <boost/beast/http/error.hpp>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/config_values.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/manifest_name.hpp>
#include <pgship/common/wire.hpp>

#include "ingest/body_stream.hpp"
#include "ingest/incoming_file.hpp"
#include "ingest/manifest_upload.hpp"
#include "ingest/raw/multipart.hpp"
#include "ingest/upload_commit.hpp"
#include "policy/access.hpp"
#include "policy/admission.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;

// Room for multipart boundaries and part headers on top of MAX_UPLOAD_BYTES.
constexpr std::uint64_t multipart_overhead = 64 * 1024;

// Answers a failed body read: over the limit is 413, a client that went away or stalled is
// logged (the answer will most likely not reach it).
net::awaitable<void> answer_read_error(exchange& ex, receiver_context& ctx,
                                       const std::string& client, const error_code& ec) {
  if (ec == http::error::body_limit) {
    ctx.metrics.upload_finished(client, "rejected");
    co_await ex.respond_error(http::status::payload_too_large, wire::api_error::payload_too_large,
                              "upload exceeds MAX_UPLOAD_BYTES");
    co_return;
  }
  ctx.metrics.upload_finished(client, "failed");
  log::write(spdlog::level::warn, "upload interrupted; nothing kept",
             {{"peer", ex.peer_address()}, {"client", client}, {"reason", ec.message()}});
  co_await ex.respond_error(http::status::bad_request, wire::api_error::upload_interrupted,
                            ec.message());
}

net::awaitable<void> handle_upload(exchange& ex, receiver_context& ctx) {
  const auto who = co_await authorize(ex, ctx, scope::upload);
  if (!who) co_return;
  const auto& req = ex.request();

  // Everything that can be refused is refused before the first body byte is read.
  std::optional<sha256_digest> expected;
  if (const auto h = req[wire::content_sha256_header]; !h.empty()) {
    expected = digest_from_hex(h);
    if (!expected) {
      co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_checksum,
                                "X-Content-SHA256 must be 64 hex digits");
      co_return;
    }
  }
  const auto boundary = multipart_boundary(req[http::field::content_type]);
  std::string name(req[wire::backup_name_header]);
  // A backup's manifest, raw, after its backup: stored beside it, not as a backup.
  if (const auto manifest = parse_manifest_name(name)) {
    if (boundary) {
      co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_request,
                                "a manifest is sent as a raw body with X-Backup-Name");
    } else {
      co_await receive_manifest(ex, ctx, *who, *manifest, expected);
    }
    co_return;
  }
  if (!boundary && name.empty()) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::missing_name,
                              "send X-Backup-Name with a raw body, or multipart/form-data with a "
                              "file part");
    co_return;
  }
  if (!name.empty() && !parse_backup_name(name)) {
    const auto why = "backup names look like " + backup_name_forms();
    co_await ex.respond_error(http::status::bad_request, wire::api_error::invalid_name, why);
    co_return;
  }
  upload_slot slot(ctx);
  if (!slot.acquired()) {
    auto res =
        http_server::make_error_response(http::status::service_unavailable, wire::api_error::busy,
                                         "too many concurrent uploads; retry later");
    res.set(http::field::retry_after, "5");
    co_await ex.respond(std::move(res));
    co_return;
  }
  auto declared = ex.header_u64("Content-Length");
  // A multipart body carries boundaries and part headers besides the file itself.
  if (boundary && declared) declared = *declared - std::min(*declared, multipart_overhead);
  const auto incoming = ctx.incoming.new_path("upload");
  quota_hold hold(ctx.quota, incoming.filename().string());
  if (co_await refuse_over_limits(ex, ctx, who->client, declared, hold.key())) co_return;
  ex.set_body_limit(ctx.cfg.max_upload_bytes + (boundary ? multipart_overhead : 0));

  // The backup's own bytes, from either body form, go to `backup` and are hashed.
  incoming_file backup;
  sha256 hasher;
  hash_pieces* to_hash = nullptr;  // where the buffer being consumed lists them
  std::string problem;             // why the upload was refused, once it was
  auto problem_status = http::status::bad_request;

  // Backup bytes to disk and hash, checking space every so often while they stream.
  const auto store = [&](std::string_view data) {
    to_hash->push_back(data);
    if (auto ec = backup.write(data)) {
      problem = "storage: " + ec.message();
    } else if (crossed_check_interval(backup.size(), data.size()) &&
               out_of_space_while_streaming(ctx, who->client, hold.key(), backup.size())) {
      problem = "free space fell below MIN_FREE_BYTES or the client went over QUOTA_BYTES";
    } else {
      return true;
    }
    problem_status = http::status::insufficient_storage;
    return false;
  };

  // One read loop for both body forms; `consume` returns false to stop reading.
  std::function<bool(std::string_view)> consume;
  std::function<void()> finish_body = [] {};
  std::optional<multipart_parser> parser;
  std::string form_sha256;
  enum class part { none, file, sha256, other } current = part::none;
  bool saw_file = false;
  if (boundary) {
    parser.emplace(
        *boundary,
        multipart_parser::callbacks{
            .on_part_begin =
                [&](const multipart_parser::part_info& p) {
                  if (p.name == "file") {
                    if (saw_file) {
                      problem = "more than one file part";
                      return false;
                    }
                    saw_file = true;
                    if (name.empty()) name = p.filename.value_or("");
                    if (!parse_backup_name(name)) {
                      problem = "file name '" + name + "' is not " + backup_name_forms();
                      return false;
                    }
                    if (auto ec = backup.create(incoming)) {
                      problem = "storage: " + ec.message();
                      problem_status = http::status::internal_server_error;
                      return false;
                    }
                    backup.stage(ctx.store->begin(incoming, who->client, name), false);
                    backup.write_back(ctx.store->capabilities().keeps_spool_file);
                    log::write(spdlog::level::info, "upload started",
                               {{"client", who->client}, {"backup", name}, {"form", "multipart"}});
                    current = part::file;
                  } else {
                    current = p.name == "sha256" ? part::sha256 : part::other;
                  }
                  return true;
                },
            .on_part_data =
                [&](std::string_view data) {
                  if (current == part::file) {
                    if (!store(data)) return false;
                  } else if (current == part::sha256) {
                    if (form_sha256.size() + data.size() > 128) {
                      problem = "sha256 field too long";
                      return false;
                    }
                    form_sha256 += data;
                  }
                  return true;
                },
            .on_part_end =
                [&] {
                  current = part::none;
                  return true;
                }});
  }

  if (!boundary) {
    if (auto ec = backup.create(incoming)) {
      co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                                ec.message());
      co_return;
    }
    backup.stage(ctx.store->begin(incoming, who->client, name), false);
    backup.write_back(ctx.store->capabilities().keeps_spool_file);
    log::write(spdlog::level::info, "upload started",
               {{"client", who->client},
                {"backup", name},
                {"bytes", declared ? std::to_string(*declared) : std::string("chunked")}});
    consume = store;
  } else {
    consume = [&](std::string_view data) {
      // After the final boundary the rest (a trailing CRLF, an epilogue) is read and ignored.
      if (parser->done()) return true;
      if (parser->feed(data)) return true;
      if (problem.empty()) problem = "malformed multipart body: " + parser->error();
      return false;
    };
    finish_body = [&] {
      if (problem.empty() && !parser->done()) {
        problem = "multipart body ended before its final boundary";
      }
      if (problem.empty() && !saw_file) problem = "no part named 'file'";
      if (problem.empty() && !form_sha256.empty()) {
        const auto field = digest_from_hex(config::trim(form_sha256));
        if (!field) problem = "sha256 field must be 64 hex digits";
        if (field && expected && *field != *expected) problem = "sha256 field and header disagree";
        if (field) expected = field;
      }
    };
  }

  body_consumer on_body = [&](std::string_view data, hash_pieces& pieces) {
    to_hash = &pieces;
    return consume(data);
  };
  std::vector<sha256*> hashers{&hasher};
  auto rate = ctx.upload_rates.for_client(who->client);  // CLIENT_MAX_RATE
  // The store's parts are hashed from the arriving bytes, beside the whole-file hash. The file
  // (and its staging) is created on the first bytes of a form's file part: looked up then.
  byte_observer parts = [&backup](std::string_view piece) {
    if (auto* staged = backup.staged()) staged->arrived(piece);
  };
  const auto body = co_await stream_body(ex, ctx.hash_pool, std::move(hashers), std::move(on_body),
                                         std::move(rate), std::move(parts));
  if (body.read_error) {
    backup.discard();
    co_await answer_read_error(ex, ctx, who->client, body.read_error);
    co_return;
  }
  finish_body();
  if (!problem.empty()) {
    backup.discard();
    ctx.metrics.upload_finished(who->client, "rejected");
    log::write(spdlog::level::warn, "upload refused",
               {{"peer", ex.peer_address()}, {"client", who->client}, {"reason", problem}});
    const auto error = problem_status == http::status::bad_request ? wire::api_error::bad_request
                                                                   : wire::api_error::storage_error;
    co_await ex.respond_error(problem_status, error, problem);
    co_return;
  }

  ctx.metrics.bytes_received(who->client, backup.size());
  const auto digest = hasher.finish();
  // The place and the quota hold are given back before the answer, so a client's next upload
  // can take them.
  co_await commit_upload(ex, ctx, *who, name, backup, digest, expected, {}, false, [&](upload_end) {
    slot.release();
    hold.release();
  });
}

}  // namespace

void add_upload_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx) {
  routes.add(http::verb::post, wire::upload_path,
             [ctx](exchange& ex) { return handle_upload(ex, *ctx); }, {.body_limit = std::nullopt});
}

}  // namespace pgship::receiver
