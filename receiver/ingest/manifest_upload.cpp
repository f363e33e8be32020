#include "ingest/manifest_upload.hpp"
#include <functional>
#include <string>

#include <boost/beast/http/error.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <pgship/common/log.hpp>
#include <pgship/common/wire.hpp>

namespace pgship::receiver {
namespace {

using http_server::exchange;

// Reads the whole body (at most wire::max_manifest_bytes) into `out`, hashing it.
net::awaitable<error_code> read_manifest_body(exchange& ex, std::string& out, sha256& hasher) {
  ex.set_body_limit(wire::max_manifest_bytes);
  std::string block(64 * 1024, '\0');
  for (;;) {
    auto [ec, n] = co_await ex.read_body_full(net::buffer(block));
    if (ec) co_return ec;
    if (n == 0) co_return error_code{};
    hasher.update(std::string_view(block.data(), n));
    out.append(block.data(), n);
  }
}

}  // namespace

net::awaitable<void> receive_manifest(exchange& ex, receiver_context& ctx, const principal& who,
                                      const manifest_name& name,
                                      const std::optional<sha256_digest>& expected) {
  const std::string stored_name = format_manifest_name(name.backup, name.encrypted);
  const log::context lg{{"client", who.client},
                        {"backup", name.backup},
                        {"manifest", stored_name},
                        {"peer", ex.peer_address()}};
  // Strings are named before the co_await that uses them (GCC 12, STYLE.md).
  const std::string too_large =
      "a manifest has at most " + std::to_string(wire::max_manifest_bytes) + " bytes";
  if (const auto declared = ex.header_u64("Content-Length");
      declared && *declared > wire::max_manifest_bytes) {
    co_await ex.respond_error(http::status::payload_too_large, wire::api_error::payload_too_large,
                              too_large);
    co_return;
  }
  // Refused before a body byte is read: a manifest belongs to a backup of this client.
  result<std::optional<backup_record>> found;
  std::function<void()> find = [&] { found = ctx.store->find(who.client, name.backup); };
  co_await ctx.on_storage_thread(find);
  if (!found) {
    lg.error("manifest upload: cannot look the backup up: {}", found.error().message());
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not look the backup up");
    co_return;
  }
  const std::string no_backup = "no backup " + name.backup + ": a manifest follows its backup";
  const auto& backup = *found;
  if (!backup) {
    co_await ex.respond_error(http::status::not_found, wire::api_error::not_found, no_backup);
    co_return;
  }

  stored_manifest manifest{stored_name, {}};
  sha256 hasher;
  if (const auto read_ec = co_await read_manifest_body(ex, manifest.bytes, hasher)) {
    if (read_ec == http::error::body_limit) {
      co_await ex.respond_error(http::status::payload_too_large, wire::api_error::payload_too_large,
                                too_large);
    } else {
      const std::string why = read_ec.message();
      lg.warn("manifest upload interrupted; nothing kept: {}", why);
      co_await ex.respond_error(http::status::bad_request, wire::api_error::upload_interrupted,
                                why);
    }
    co_return;
  }
  const auto digest = hasher.finish();
  if (expected && *expected != digest) {
    lg.warn("manifest rejected: sha256 mismatch (expected {}, received {}); nothing kept",
            to_hex(*expected), to_hex(digest));
    const std::string detail = "sha256 of the received " + std::to_string(manifest.bytes.size()) +
                               " bytes is " + to_hex(digest) + ", expected " + to_hex(*expected);
    co_await ex.respond_error(http::status::unprocessable_entity, wire::api_error::hash_mismatch,
                              detail);
    co_return;
  }
  if (manifest.bytes.empty()) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_request,
                              "the manifest is empty");
    co_return;
  }

  result<manifest_outcome> put;
  std::function<void()> store = [&] {
    put = ctx.store->put_manifest(*backup, manifest, !ctx.cfg.append_only);
  };
  co_await ctx.on_storage_thread(store);
  if (!put && put.error() == std::errc::no_such_file_or_directory) {
    co_await ex.respond_error(http::status::not_found, wire::api_error::not_found, no_backup);
    co_return;
  }
  if (!put) {
    lg.error("manifest upload failed: {}", put.error().message());
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not store the manifest");
    co_return;
  }
  if (*put == manifest_outcome::refused) {
    lg.warn("manifest refused: the backup has another one and the receiver is append-only");
    const std::string detail =
        "backup " + name.backup + " has another manifest, and this receiver is append-only";
    co_await ex.respond_error(http::status::forbidden, wire::api_error::conflict, detail);
    co_return;
  }
  const bool identical = *put == manifest_outcome::identical;
  if (identical) {
    lg.info("manifest matched the stored one: nothing changed");
  } else {
    lg.info("manifest {}: {} bytes, sha256 {}",
            *put == manifest_outcome::replaced ? "replaced" : "stored", manifest.bytes.size(),
            to_hex(digest));
  }
  boost::json::object body;
  body["backup"] = name.backup;
  body["manifest"] = stored_name;
  body["size"] = manifest.bytes.size();
  body["sha256"] = to_hex(digest);
  std::string text = boost::json::serialize(body) + "\n";
  co_await ex.respond_json(identical ? http::status::ok : http::status::created, std::move(text));
}

}  // namespace pgship::receiver
