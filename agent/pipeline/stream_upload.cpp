#include "pipeline/stream_upload.hpp"
#include <cerrno>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <unistd.h>

#include "pipeline/tus_wire.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace http = boost::beast::http;

follow_upload::follow_upload(http_client& client, upload_request request, run_control& control,
                             net::any_io_executor ex)
    : client_(client), req_(std::move(request)), control_(control), wake_(std::move(ex)) {}

follow_upload::~follow_upload() {
  if (fd_ >= 0) ::close(fd_);
}

bool follow_upload::open_file(const std::filesystem::path& path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    req_.log.warn("streaming upload: cannot open {}: {}", path.string(), std::strerror(errno));
  return fd_ >= 0;
}

net::awaitable<bool> follow_upload::begin() {
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

net::awaitable<void> follow_upload::follow() {
  // Not a chunk more once the dump ended: on a slow link the rest would keep the backup from
  // its local commit; finish() sends it after the commit instead.
  while (!failed_ && !control_.stopping() && !dump_done_) {
    if (written_ >= offset_ + req_.chunk_size) {
      if (fd_ < 0 && !open_file(req_.file)) {
        failed_ = true;
        break;
      }
      // Named first: GCC 12 mishandles a temporary string inside the co_await expression.
      const std::string no_hash;
      const bool sent = co_await patch(req_.chunk_size, false, 0, no_hash);
      if (!sent) failed_ = true;
      continue;
    }
    waiting_ = true;
    wake_.expires_at(net::steady_timer::time_point::max());
    co_await wake_.async_wait(net::as_tuple(net::use_awaitable));
    waiting_ = false;
  }
}

void follow_upload::grew(std::uint64_t bytes) {
  written_ = bytes;
  if (waiting_ && written_ >= offset_ + req_.chunk_size) wake_.cancel();
}

void follow_upload::dump_ended() {
  dump_done_ = true;
  wake_.cancel();
}

net::awaitable<bool> follow_upload::patch(std::uint64_t length, bool last, std::uint64_t size,
                                          const std::string& sha256_hex) {
  const auto digest = hash_range(fd_, offset_, length);
  if (!digest) {
    req_.log.warn("streaming upload: cannot read {}: {}", req_.file.string(), std::strerror(errno));
    co_return false;
  }
  auto r = tus_request(http::verb::patch, location_, req_.token);
  r.set(tus::header::upload_offset, std::to_string(offset_));
  r.set(http::field::content_type, "application/offset+octet-stream");
  r.set(tus::header::upload_checksum,
        std::string(tus::checksum_algorithm) + " " + to_base64(*digest));
  if (last) {
    r.set(tus::header::upload_length, std::to_string(size));
    r.set(wire::content_sha256_header, sha256_hex);
  }
  std::function<void(std::size_t)> on_sent = [this](std::size_t n) { bytes_sent_ += n; };
  // A refusal of any kind, a 429 included, ends the streaming: the regular upload takes over
  // after the commit, with its retries and its waits (which a stop interrupts).
  const auto reply = co_await client_.send_file_range(std::move(r), fd_, offset_, length, on_sent);
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

net::awaitable<bool> follow_upload::finish(const std::filesystem::path& file, std::uint64_t size,
                                           const std::string& sha256_hex, upload_output& out) {
  out.size = size;
  bool ok = !failed_ && !location_.empty() && size >= offset_ && (fd_ >= 0 || open_file(file));
  // More than a chunk behind (a slow link): the rest goes up chunk by chunk through the
  // regular upload, so a cut costs one chunk, not all of it.
  if (ok && size - offset_ > req_.chunk_size) {
    req_.log.info("streaming upload: {} bytes left after the dump go up in chunks", size - offset_);
    ok = false;
  }
  if (ok) ok = co_await patch(size - offset_, true, size, sha256_hex);
  out.bytes_sent += bytes_sent_;
  bytes_sent_ = 0;
  // Not committed: the regular upload continues this one from the receiver's offset.
  out.location = ok ? std::string() : location_;
  location_.clear();
  co_return ok;
}

net::awaitable<void> follow_upload::abandon() {
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

}  // namespace pgship::agent
