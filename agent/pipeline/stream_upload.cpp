#include "pipeline/stream_upload.hpp"
#include <cerrno>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <unistd.h>

namespace pgship::agent {

namespace net = boost::asio;

follow_upload::follow_upload(http_client& client, upload_request request, run_control& control,
                             net::any_io_executor ex)
    : req_(std::move(request)), control_(control), wake_(std::move(ex)), tus_(client, req_) {}

follow_upload::~follow_upload() {
  if (fd_ >= 0) ::close(fd_);
}

bool follow_upload::open_file(const std::filesystem::path& path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    req_.log.warn("streaming upload: cannot open {}: {}", path.string(), std::strerror(errno));
  return fd_ >= 0;
}

net::awaitable<void> follow_upload::follow() {
  // Not a chunk more once the dump ended: on a slow link the rest would keep the backup from
  // its local commit; finish() sends it after the commit instead.
  while (!failed_ && !control_.stopping() && !dump_done_) {
    if (written_ >= tus_.offset() + req_.chunk_size) {
      if (fd_ < 0 && !open_file(req_.file)) {
        failed_ = true;
        break;
      }
      // Named first: GCC 12 mishandles a temporary string inside the co_await expression.
      const std::string no_hash;
      const bool sent = co_await tus_.patch(fd_, req_.chunk_size, false, 0, no_hash);
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
  if (waiting_ && written_ >= tus_.offset() + req_.chunk_size) wake_.cancel();
}

void follow_upload::dump_ended() {
  dump_done_ = true;
  wake_.cancel();
}

net::awaitable<bool> follow_upload::finish(const std::filesystem::path& file, std::uint64_t size,
                                           const std::string& sha256_hex, upload_output& out) {
  out.size = size;
  const auto offset = tus_.offset();
  bool ok = !failed_ && !tus_.location().empty() && size >= offset && (fd_ >= 0 || open_file(file));
  // More than a chunk behind (a slow link): the rest goes up chunk by chunk through the
  // regular upload, so a cut costs one chunk, not all of it.
  if (ok && size - offset > req_.chunk_size) {
    req_.log.info("streaming upload: {} bytes left after the dump go up in chunks", size - offset);
    ok = false;
  }
  if (ok) ok = co_await tus_.patch(fd_, size - offset, true, size, sha256_hex);
  out.bytes_sent += tus_.take_bytes_sent();
  // Not committed: the regular upload continues this one from the receiver's offset.
  out.location = ok ? std::string() : tus_.location();
  tus_.forget();
  co_return ok;
}

}  // namespace pgship::agent
