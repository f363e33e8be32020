#include "pipeline/pipe_feed.hpp"
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <unistd.h>

namespace pgship::agent {

namespace net = boost::asio;

net::awaitable<void> drain_to_pipe(io::buffer_sink& out, net::writable_pipe& pipe,
                                   std::error_code& pipe_ec) {
  if (!out.bytes().empty() && !pipe_ec) {
    auto [ec, n] = co_await net::async_write(pipe, net::buffer(out.bytes()),
                                             net::as_tuple(net::use_awaitable));
    (void)n;
    pipe_ec = ec;
  }
  out.clear();
}

net::awaitable<std::error_code> feed_file(int fd, io::sink& chain, io::buffer_sink& out,
                                          net::writable_pipe& pipe, std::error_code& pipe_ec) {
  std::vector<char> block(256 * 1024);
  for (std::uint64_t offset = 0;;) {
    const ssize_t n = ::pread(fd, block.data(), block.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) co_return std::error_code(errno, std::generic_category());
    if (n == 0) break;
    offset += static_cast<std::uint64_t>(n);
    const std::span<const char> piece(block.data(), static_cast<std::size_t>(n));
    if (auto ec = chain.write(piece)) co_return ec;
    co_await drain_to_pipe(out, pipe, pipe_ec);
  }
  auto ec = chain.finish();
  co_await drain_to_pipe(out, pipe, pipe_ec);
  co_return ec;
}

}  // namespace pgship::agent
