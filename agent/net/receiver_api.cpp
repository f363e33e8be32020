#include "net/receiver_api.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <pgship/common/fs.hpp>
#include <pgship/common/manifest_name.hpp>
#include <pgship/common/sha256.hpp>
#include <pgship/common/time_text.hpp>
#include <pgship/common/wire.hpp>
#include <pgship/common/wire/backup_record.hpp>

#include "net/rate_limit.hpp"
#include "net/retry_policy.hpp"

namespace pgship::agent {
namespace net = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

std::unique_ptr<http_client> make_receiver_client(boost::asio::any_io_executor ex,
                                                  const settings& cfg,
                                                  std::chrono::seconds timeout) {
  auto endpoint = receiver_endpoint::parse(cfg.backup_api_url);
  if (!endpoint) return nullptr;
  auto client = std::make_unique<http_client>(
      std::move(ex), *endpoint, tls_files{cfg.ca_file, cfg.client_cert_file, cfg.client_key_file},
      timeout);
  client->limit_uploads(upload_rate_limiter(cfg.upload_rate_limit));
  return client;
}

net::awaitable<stage_error> check_receiver_health(http_client& client) {
  http_request r{http::verb::get, client.endpoint().target(wire::health_path), 11};
  const auto reply = co_await client.send(std::move(r));
  const std::string where = client.endpoint().origin();
  if (!reply.ok()) co_return fail(reply.failure, "receiver health check: " + reply.message);
  boost::system::error_code ec;
  const auto body = json::parse(reply.response.body(), ec);
  const auto* status = !ec && body.is_object() ? body.get_object().if_contains("status") : nullptr;
  const bool ok = reply.status() == 200 && status != nullptr && status->is_string() &&
                  status->get_string() == "ok";
  if (!ok) {
    co_return fail(errc::receiver_unhealthy,
                   "receiver " + where + " is not healthy: " + describe_response(reply.response) +
                       (reply.response.body().empty() ? "" : " " + reply.response.body()));
  }
  co_return stage_error{};
}

net::awaitable<stage_error> ask_whoami(http_client& client, const std::string& token,
                                       wire::whoami_reply& out) {
  http_request r{http::verb::get, client.endpoint().target(wire::whoami_path), 11};
  r.set(http::field::authorization, "Bearer " + token);
  const auto reply = co_await client.send(std::move(r));
  if (!reply.ok()) co_return fail(reply.failure, "asking the receiver: " + reply.message);
  if (reply.status() == 404 || reply.status() == 405) {
    // A receiver from before whoami: its /health is the best answer it has.
    auto error = co_await check_receiver_health(client);
    out = wire::whoami_reply{};
    out.can_upload = !error;
    out.reason = error.message;
    co_return stage_error{};
  }
  if (reply.status() == 401 || reply.status() == 403) {
    co_return fail(errc::receiver_auth_failed,
                   "the receiver refuses the token: " + describe_response(reply.response));
  }
  auto parsed = reply.status() == 200 ? wire::parse_whoami(reply.response.body()) : std::nullopt;
  if (!parsed) {
    co_return fail(errc::receiver_unhealthy,
                   "asking the receiver " + client.endpoint().origin() +
                       " who this token is: " + describe_response(reply.response));
  }
  out = std::move(*parsed);
  co_return stage_error{};
}

net::awaitable<stage_error> check_receiver_takes_uploads(http_client& client,
                                                         const std::string& token) {
  wire::whoami_reply who;
  if (auto error = co_await ask_whoami(client, token, who)) co_return error;
  if (!who.client.empty() && !who.has_scope("upload")) {
    co_return fail(errc::receiver_auth_failed,
                   "the token of client " + who.client + " has no upload scope");
  }
  if (!who.can_upload) {
    co_return fail(errc::receiver_unhealthy,
                   "receiver " + client.endpoint().origin() + " cannot take uploads now: " +
                       (who.reason.empty() ? std::string("no reason given") : who.reason));
  }
  co_return stage_error{};
}

std::optional<std::vector<remote_backup>> parse_backup_list(std::string_view text) {
  const auto records = wire::records_from_json(text);
  if (!records) return std::nullopt;
  std::vector<remote_backup> out;
  for (const auto& r : *records) {
    // The id becomes a file name and a URL path segment here: the receiver is trusted with
    // backups, not with paths.
    if (!fs::is_safe_name(r.id)) return std::nullopt;
    remote_backup b;
    b.id = r.id;
    b.database = r.database;
    b.size = r.size;
    b.sha256 = r.sha256;
    b.taken = format_utc(r.taken);
    b.uploaded = format_utc(r.uploaded);
    b.kind = wire::kind_of(r);
    out.push_back(std::move(b));
  }
  return out;
}

net::awaitable<stage_error> list_remote_backups(http_client& client, const std::string& token,
                                                const std::string& database,
                                                std::vector<remote_backup>& out,
                                                std::string* raw_json) {
  std::string target = client.endpoint().target(wire::list_path);
  if (!database.empty()) {
    target += "?database=" + boost::urls::encode(database, boost::urls::unreserved_chars);
  }
  http_request r{http::verb::get, target, 11};
  r.set(http::field::authorization, "Bearer " + token);
  const auto reply = co_await client.send(std::move(r));
  if (!reply.ok()) co_return fail(reply.failure, "listing backups: " + reply.message);
  if (reply.status() != 200) {
    co_return fail(reply.status() == 401 || reply.status() == 403 ? errc::receiver_auth_failed
                                                                  : errc::receiver_unhealthy,
                   "listing backups: " + describe_response(reply.response));
  }
  auto parsed = parse_backup_list(reply.response.body());
  if (!parsed) {
    co_return fail(errc::receiver_unhealthy,
                   "listing backups: the receiver's answer is not a "
                   "list of backups");
  }
  out = std::move(*parsed);
  if (raw_json != nullptr) *raw_json = reply.response.body();
  co_return stage_error{};
}

net::awaitable<stage_error> upload_manifest(http_client& client, const std::string& token,
                                            const std::string& backup_id,
                                            const std::string& stored_name,
                                            const std::string& bytes) {
  const auto name = parse_manifest_name(stored_name);
  if (!name || name->backup != backup_id) {
    co_return fail(errc::internal, "'" + stored_name + "' is not a manifest name of " + backup_id);
  }
  http_request r{http::verb::post, client.endpoint().target(wire::upload_path), 11};
  r.set(http::field::authorization, "Bearer " + token);
  r.set(wire::backup_name_header, stored_name);
  r.set(wire::content_sha256_header, to_hex(sha256_of(bytes)));
  r.set(http::field::content_type, "application/octet-stream");
  r.body() = bytes;
  const auto reply = co_await client.send(std::move(r));
  if (!reply.ok()) co_return fail(reply.failure, "uploading the manifest: " + reply.message);
  if (reply.status() == 200 || reply.status() == 201) co_return stage_error{};
  // A passing refusal (503 busy, 429, 5xx) is receiver_unhealthy: worth another try.
  const auto error = error_field(reply.response);
  const auto code = classify_reply(reply.status(), error) == reply_class::retry
                        ? errc::receiver_unhealthy
                        : refusal_code(reply.status(), error);
  co_return fail(
      code, "uploading the manifest " + stored_name + ": " + describe_response(reply.response));
}

net::awaitable<stage_error> download_manifest(http_client& client, const std::string& token,
                                              const std::string& backup_id, std::string& bytes,
                                              std::string& stored_name) {
  bytes.clear();
  stored_name.clear();
  // The id becomes a path segment: the receiver's names only (as it lists them).
  if (!fs::is_safe_name(backup_id)) {
    co_return fail(errc::config_invalid, "'" + backup_id + "' is not a backup id");
  }
  std::string target(wire::download_prefix);
  target += backup_id;
  target += wire::download_manifest_suffix;
  http_request r{http::verb::get, client.endpoint().target(target), 11};
  r.set(http::field::authorization, "Bearer " + token);
  const auto reply = co_await client.send(std::move(r));
  if (!reply.ok()) co_return fail(reply.failure, "downloading the manifest: " + reply.message);
  if (reply.status() == 404) co_return stage_error{};
  if (reply.status() != 200) {
    co_return fail(
        reply.status() == 401 || reply.status() == 403 ? errc::receiver_auth_failed
                                                       : errc::receiver_unhealthy,
        "downloading the manifest of " + backup_id + ": " + describe_response(reply.response));
  }
  // The name the receiver stored it under, which must be this backup's.
  const std::string name(reply.response[wire::manifest_name_header]);
  const auto parsed = parse_manifest_name(name);
  if (!parsed || parsed->backup != backup_id) {
    co_return fail(errc::receiver_unhealthy, "downloading the manifest of " + backup_id +
                                                 ": the receiver named it '" + name + "'");
  }
  bytes = reply.response.body();
  stored_name = name;
  co_return stage_error{};
}

}  // namespace pgship::agent
