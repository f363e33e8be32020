#include "net/healthcheck_ping.hpp"
#include <cctype>
#include <fstream>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/http_client.hpp"
#include "net/receiver_endpoint.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace http = boost::beast::http;

std::string ping_url(std::string_view url_template, std::string_view database, ping_event event,
                     std::string_view run_id) {
  // A database name is any identifier: percent-encoded, it stays one path segment.
  std::string encoded;
  for (const unsigned char c : database) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      constexpr char hex[] = "0123456789ABCDEF";
      encoded += {'%', hex[c >> 4], hex[c & 15]};
    }
  }
  std::string url(url_template);
  for (auto at = url.find("{db}"); at != std::string::npos; at = url.find("{db}", at)) {
    url.replace(at, 4, encoded);
    at += encoded.size();
  }
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  if (event == ping_event::start) url += "/start";
  if (event == ping_event::fail) url += "/fail";
  return url + "?rid=" + std::string(run_id);
}

std::string log_tail(const std::filesystem::path& log_file, std::size_t limit) {
  std::ifstream in(log_file, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  const auto from = size > limit ? size - limit : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string tail(size - from, '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  tail.resize(static_cast<std::size_t>(in.gcount()));
  if (from > 0) {
    const auto line = tail.find('\n');
    tail.erase(0, line == std::string::npos ? tail.size() : line + 1);
  }
  return tail;
}

net::awaitable<void> send_ping(std::string url, std::string body, const log::context& lg) {
  const auto query = url.find('?');
  const auto endpoint = receiver_endpoint::parse(std::string_view(url).substr(0, query));
  if (!endpoint) {
    lg.warn("the healthcheck ping was not sent: HEALTHCHECK_PING_URL is not an http(s) URL");
    co_return;
  }
  const auto target =
      endpoint->target("") + url.substr(query == std::string::npos ? url.size() : query);
  // The ping service is not the receiver: the system's CAs, none of the receiver's files.
  http_client client(co_await net::this_coro::executor, *endpoint, tls_files{},
                     std::chrono::seconds(10));
  net::steady_timer pause(co_await net::this_coro::executor);
  std::string last;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    http_request request{http::verb::post, target, 11};
    request.set(http::field::content_type, "text/plain; charset=utf-8");
    request.body() = body;
    request.prepare_payload();
    const auto reply = co_await client.send(std::move(request));
    if (reply.ok() && reply.status() / 100 == 2) co_return;
    last = reply.ok() ? "HTTP " + std::to_string(reply.status()) : reply.message;
    if (attempt < 3) {
      pause.expires_after(std::chrono::seconds(1));
      co_await pause.async_wait(net::use_awaitable);
    }
  }
  lg.warn("the healthcheck ping failed three times ({}): the run goes on", last);
}

}  // namespace pgship::agent
