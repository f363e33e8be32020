#include "pipeline/pipe_feed.hpp"
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <pgship/common/io/async_pump.hpp>

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
  io::async_block_sink step = [&](std::span<const char> piece) -> net::awaitable<std::error_code> {
    if (auto ec = chain.write(piece)) co_return ec;
    co_await drain_to_pipe(out, pipe, pipe_ec);
    co_return std::error_code{};
  };
  const std::optional<std::uint64_t> to_the_end;
  if (auto ec = co_await io::pump_file_async(fd, 0, to_the_end, step)) co_return ec;
  auto ec = chain.finish();
  co_await drain_to_pipe(out, pipe, pipe_ec);
  co_return ec;
}

}  // namespace pgship::agent
