#include "ingest/tus/tus_reply.hpp"
#include <array>
#include <string>
#include <utility>

#include "policy/access.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;

using wire::api_error;

// Every tus request but OPTIONS must say which protocol version it speaks.
net::awaitable<bool> refuse_wrong_version(exchange& ex) {
  if (ex.request()[tus_header::resumable] == tus::version) co_return false;
  auto res = tus_error(http::status::precondition_failed, api_error::unsupported_tus_version,
                       "Tus-Resumable: " + std::string(tus::version) + " is required");
  res.set(tus_header::version, tus::version);
  co_await ex.respond(std::move(res));
  co_return true;
}

}  // namespace

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

net::awaitable<std::optional<principal>> authorize_tus(exchange& ex, tus_service& st) {
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

// Another client's upload is indistinguishable from none.
net::awaitable<std::optional<upload_info>> find_upload(exchange& ex, tus_service& st,
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

}  // namespace pgship::receiver
