#include "net/tus_deferred.hpp"
#include <cerrno>
#include <cstring>

#include "net/tus_wire.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace http = boost::beast::http;

tus_deferred::tus_deferred(http_client& client, const upload_request& request)
    : client_(client), req_(request) {}

net::awaitable<bool> tus_deferred::create() {
  auto r = tus_request(http::verb::post, client_.endpoint().target(wire::uploads_path), req_.token);
  r.set(tus::header::upload_defer_length, tus::defer_length_value);
  r.set(tus::header::upload_metadata, tus::encode_metadata(req_.name, std::nullopt));
  const auto reply = co_await client_.send(std::move(r));
  if (reply.ok() && reply.status() == 201) {
    location_ = location_target(reply.response[http::field::location], client_.endpoint());
  }
  if (location_.empty()) {
    const std::string why = !reply.ok() ? reply.message : describe_response(reply.response);
    req_.log.warn("no upload during the dump ({}); the backup is uploaded after it", why);
    co_return false;
  }
  co_return true;
}

net::awaitable<bool> tus_deferred::patch(int fd, std::uint64_t length, bool last,
                                         std::uint64_t size, const std::string& sha256_hex) {
  const auto digest = hash_range(fd, offset_, length);
  if (!digest) {
    req_.log.warn("streaming upload: cannot read {}: {}", req_.file.string(), std::strerror(errno));
    co_return false;
  }
  auto r = tus_patch(location_, req_.token, offset_, *digest);
  if (last) set_final_length(r, size, sha256_hex);
  std::function<void(std::size_t)> on_sent = [this](std::size_t n) { bytes_sent_ += n; };
  // A refusal of any kind, a 429 included, ends the streaming: the regular upload takes over
  // after the commit, with its retries and its waits (which a stop interrupts).
  const auto reply = co_await client_.send_file_range(std::move(r), fd, offset_, length, on_sent);
  const auto next =
      reply.ok() ? header_u64(reply.response, tus::header::upload_offset) : std::nullopt;
  if (!reply.ok() || reply.status() / 100 != 2 || !next || *next != offset_ + length) {
    const std::string why = !reply.ok() ? reply.message : describe_response(reply.response);
    req_.log.warn("streaming upload stopped at offset {}: {}", offset_, why);
    co_return false;
  }
  offset_ = *next;
  co_return true;
}

net::awaitable<void> tus_deferred::remove() {
  if (location_.empty()) co_return;
  auto r = tus_request(http::verb::delete_, location_, req_.token);
  const auto reply = co_await client_.send(std::move(r));
  if (!reply.ok() || reply.status() / 100 != 2) {
    // It expires on the receiver by itself (UPLOAD_EXPIRY); nothing of it is committed.
    req_.log.warn("cannot remove the unfinished upload {}: {}", location_,
                  reply.ok() ? describe_response(reply.response) : reply.message);
  }
  location_.clear();
}

std::uint64_t tus_deferred::take_bytes_sent() {
  const auto sent = bytes_sent_;
  bytes_sent_ = 0;
  return sent;
}

}  // namespace pgship::agent
