#include "net/wal_api.hpp"
#include <algorithm>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/fs.hpp>
#include <pgship/common/wire/headers.hpp>

#include "net/tus_wire.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace http = boost::beast::http;

http_request wal_unit_request(const receiver_endpoint& endpoint, const std::string& token,
                              std::string_view system, const wal_unit_put& unit) {
  http_request r{http::verb::put, endpoint.target(wire::wal::unit_path(system, unit.file_name)),
                 11};
  r.set(http::field::authorization, "Bearer " + token);
  r.set(http::field::content_type, "application/octet-stream");
  r.set(wire::content_sha256_header, unit.stored_sha256);
  r.set(wire::wal::header::plaintext_sha256, unit.plaintext_sha256);
  r.set(wire::wal::header::plaintext_size, std::to_string(unit.plaintext_size));
  r.set(wire::wal::header::segment_size, std::to_string(unit.segment_size));
  if (!unit.time_map.empty()) {
    r.set(wire::wal::header::time_map, wire::wal::encode_time_map(unit.time_map));
  }
  if (unit.timeline_switch) {
    r.set(wire::wal::header::timeline_switch, wire::wal::encode_switch(*unit.timeline_switch));
  }
  r.body().assign(unit.stored.data(), unit.stored.size());
  r.prepare_payload();
  return r;
}

wal_api::put_outcome judge_unit_reply(const http_outcome& reply, std::string_view file_name) {
  const std::string what = "shipping WAL unit " + std::string(file_name) + ": ";
  wal_api::put_outcome out;
  if (!reply.ok()) {
    out.error = fail(reply.failure, what + reply.message);
    return out;
  }
  const auto status = reply.status();
  if (status == 200 || status == 201) return out;
  const std::string message = what + describe_response(reply.response);
  if (status == 409) {
    // Other bytes under the same name, or another segment size: the stream must stop.
    out.error = fail(errc::wal_conflict, message);
    out.permanent = true;
  } else if (status == 401 || status == 403) {
    out.error = fail(errc::receiver_auth_failed, message);
    out.permanent = true;
  } else if (status == 408 || status == 422 || status == 429 || status / 100 == 5) {
    // Busy, throttled, out of space, restarting: the slot keeps the WAL until it passes. A 422
    // is bytes damaged on the way (the unit's hash is of the bytes held here): send them again.
    out.error = fail(errc::receiver_unhealthy, message);
    out.retry_after = retry_after(reply);
  } else {
    out.error = fail(errc::upload_rejected, message);
    out.permanent = true;
  }
  return out;
}

stage_error judge_state_reply(const http_outcome& reply, std::string_view system,
                              wire::wal::archive_state& out) {
  const std::string what = "reading the WAL archive of system " + std::string(system) + ": ";
  if (!reply.ok()) return fail(reply.failure, what + reply.message);
  const auto status = reply.status();
  if (status == 404) {
    out = wire::wal::archive_state{};
    out.system = std::string(system);
    return {};
  }
  if (status == 401 || status == 403) {
    return fail(errc::receiver_auth_failed, what + describe_response(reply.response));
  }
  if (status != 200) {
    return fail(errc::receiver_unhealthy, what + describe_response(reply.response));
  }
  auto state = wire::wal::decode_state(reply.response.body());
  if (!state) {
    return fail(errc::receiver_unhealthy,
                what + "the receiver's answer is not an archive state this agent reads");
  }
  if (state->system != system) {
    return fail(errc::receiver_unhealthy,
                what + "the receiver answered for system '" + state->system + "'");
  }
  out = std::move(*state);
  return {};
}

stage_error judge_gap_reply(const http_outcome& reply, std::string_view system) {
  const std::string what = "recording a WAL gap of system " + std::string(system) + ": ";
  if (!reply.ok()) return fail(reply.failure, what + reply.message);
  const auto status = reply.status();
  if (status == 200 || status == 201) return {};
  if (status == 401 || status == 403) {
    return fail(errc::receiver_auth_failed, what + describe_response(reply.response));
  }
  return fail(errc::receiver_unhealthy, what + describe_response(reply.response));
}

wal_api::put_outcome judge_mark_reply(const http_outcome& reply, std::string_view backup_id) {
  const std::string what = "completion mark of base backup " + std::string(backup_id) + ": ";
  wal_api::put_outcome out;
  if (!reply.ok()) {
    out.error = fail(reply.failure, what + reply.message);
    return out;
  }
  const auto status = reply.status();
  if (status == 200 || status == 201) return out;
  out.permanent = status >= 400 && status < 500 && status != 408 && status != 429;
  if (status == 409) {
    out.error = fail(errc::basebackup_incomplete,
                     what + "the receiver refused it: " + describe_response(reply.response));
  } else if (status == 401 || status == 403) {
    out.error = fail(errc::receiver_auth_failed, what + describe_response(reply.response));
  } else if (out.permanent) {
    out.error = fail(errc::upload_rejected, what + describe_response(reply.response));
  } else {
    out.error = fail(errc::receiver_unhealthy, what + describe_response(reply.response));
  }
  return out;
}

wal_api::wal_api(std::unique_ptr<http_client> client, std::string token, std::string system)
    : client_(std::move(client)), token_(std::move(token)), system_(std::move(system)) {}

wal_api::~wal_api() = default;

net::awaitable<wal_api::put_outcome> wal_api::put_unit(const wal_unit_put& unit) {
  if (!fs::is_safe_name(unit.file_name)) {
    put_outcome refused;
    refused.error = fail(errc::internal, "'" + unit.file_name + "' is not a WAL unit name");
    refused.permanent = true;
    co_return refused;
  }
  auto request = wal_unit_request(client_->endpoint(), token_, system_, unit);
  const auto reply = co_await client_->send(std::move(request));
  co_return judge_unit_reply(reply, unit.file_name);
}

net::awaitable<stage_error> wal_api::get_state(wire::wal::archive_state& out) {
  http_request r{http::verb::get, client_->endpoint().target(wire::wal::system_path(system_)), 11};
  r.set(http::field::authorization, "Bearer " + token_);
  const auto reply = co_await client_->send(std::move(r));
  co_return judge_state_reply(reply, system_, out);
}

net::awaitable<stage_error> wal_api::post_gap(const wire::wal::gap_record& gap) {
  http_request r{http::verb::post, client_->endpoint().target(wire::wal::gaps_path(system_)), 11};
  r.set(http::field::authorization, "Bearer " + token_);
  r.set(http::field::content_type, "application/json");
  r.body() = wire::wal::encode_gap(gap);
  r.prepare_payload();
  const auto reply = co_await client_->send(std::move(r));
  co_return judge_gap_reply(reply, system_);
}

net::awaitable<wal_api::put_outcome> wal_api::put_mark(const wire::wal::basebackup_mark& mark) {
  if (!fs::is_safe_name(mark.id)) {
    put_outcome refused;
    refused.error = fail(errc::internal, "'" + mark.id + "' is not a base backup name");
    refused.permanent = true;
    co_return refused;
  }
  http_request r{http::verb::put,
                 client_->endpoint().target(wire::wal::basebackup_mark_path(system_, mark.id)), 11};
  r.set(http::field::authorization, "Bearer " + token_);
  r.set(http::field::content_type, "application/json");
  r.body() = wire::wal::encode_mark(mark);
  r.prepare_payload();
  const auto reply = co_await client_->send(std::move(r));
  co_return judge_mark_reply(reply, mark.id);
}

stage_error judge_read_reply(const http_outcome& reply, const std::string& what) {
  if (!reply.ok()) return fail(reply.failure, what + ": " + reply.message);
  const auto status = reply.status();
  if (status / 100 == 2) return {};
  const std::string said = what + ": " + describe_response(reply.response);
  if (status == 409) return fail(errc::wal_gap, said);
  if (status == 401 || status == 403) return fail(errc::receiver_auth_failed, said);
  return fail(errc::receiver_unhealthy, said);
}

namespace {

// How long a recovery read waits out a receiver that throttles (429) or is busy (503).
constexpr auto read_patience = std::chrono::seconds(60);

bool throttled(const http_outcome& reply) {
  return reply.ok() && (reply.status() == 429 || reply.status() == 503);
}

// The pause before asking again: what Retry-After says (at most 10 s), else 1, 2, 4... s.
std::chrono::milliseconds pause_after(const http_outcome& reply, int attempt) {
  if (const auto said = retry_after(reply)) {
    return std::min<std::chrono::milliseconds>(*said, std::chrono::seconds(10));
  }
  return std::chrono::milliseconds(std::min(1000 << std::min(attempt, 3), 8000));
}

http_request read_request(const http_client& client, const std::string& path,
                          const std::string& token) {
  http_request r{http::verb::get, client.endpoint().target(path), 11};
  r.set(http::field::authorization, "Bearer " + token);
  return r;
}

// A GET of `path` (its body into `sink` when one is given), asked again while the receiver
// throttles or is busy, for up to read_patience.
net::awaitable<http_outcome> read_patiently(http_client& client, const std::string& path,
                                            const std::string& token, const body_sink* sink) {
  const auto deadline = std::chrono::steady_clock::now() + read_patience;
  net::steady_timer pause(co_await net::this_coro::executor);
  for (int attempt = 0;; ++attempt) {
    http_outcome reply;
    if (sink != nullptr) {
      reply = co_await client.download(read_request(client, path, token), *sink);
    } else {
      reply = co_await client.send(read_request(client, path, token));
    }
    if (!throttled(reply) || std::chrono::steady_clock::now() >= deadline) co_return reply;
    pause.expires_after(pause_after(reply, attempt));
    co_await pause.async_wait(net::use_awaitable);
  }
}

}  // namespace

net::awaitable<stage_error> wal_api::get_bundle(std::string_view file, body_sink sink,
                                                bool& absent) {
  absent = false;
  const std::string what = "WAL " + std::string(file) + " of system " + system_;
  const auto path = wire::wal::bundle_path(system_, file);  // named: GCC 12 and temporaries
  const auto reply = co_await read_patiently(*client_, path, token_, &sink);
  if (reply.ok() && reply.status() == 404) {
    absent = true;
    co_return stage_error{};
  }
  co_return judge_read_reply(reply, what);
}

}  // namespace pgship::agent
