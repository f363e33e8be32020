#include "pipeline/manifest_upload.hpp"
#include <chrono>
#include <stdexcept>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/age/age_keys.hpp>
#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/manifest_name.hpp>

#include "net/receiver_api.hpp"

namespace pgship::agent {

namespace net = boost::asio;

sealed_manifest seal_manifest(const manifest& m) {
  sealed_manifest out;
  const bool encrypted = !m.encryption_recipients.empty();
  out.name = format_manifest_name(m.name, encrypted);
  const auto json = to_json(m);
  if (!encrypted) {
    out.bytes = json;
    return out;
  }
  std::vector<age::recipient> recipients;
  try {
    for (const auto& text : m.encryption_recipients)
      recipients.push_back(age::parse_recipient(text));
  } catch (const std::invalid_argument& e) {
    out.error =
        fail(errc::config_invalid, "cannot encrypt the manifest of " + m.name + ": " + e.what());
    return out;
  }
  io::buffer_sink sealed;
  io::age_encryptor encryptor(sealed, recipients);
  auto ec = encryptor.write(json);
  if (!ec) ec = encryptor.finish();
  if (ec) {
    out.error =
        fail(errc::internal, "cannot encrypt the manifest of " + m.name + ": " + ec.message());
    return out;
  }
  out.bytes = sealed.text();
  return out;
}

net::awaitable<stage_error> ship_manifest(http_client& client, const std::string& token,
                                          const manifest& m) {
  auto sealed = seal_manifest(m);
  if (sealed.error) co_return sealed.error;
  stage_error error;
  for (int attempt = 1;; ++attempt) {
    error = co_await upload_manifest(client, token, m.name, sealed.name, sealed.bytes);
    const bool passing =
        error.code == errc::receiver_unreachable || error.code == errc::receiver_unhealthy;
    if (!error || !passing || attempt == 3) break;
    net::steady_timer pause(co_await net::this_coro::executor, std::chrono::seconds(attempt));
    co_await pause.async_wait(net::use_awaitable);
  }
  co_return error;
}

}  // namespace pgship::agent
