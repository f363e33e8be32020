#include <cerrno>
#include <vector>

#include <unistd.h>

#include <pgship/common/io/async_pump.hpp>

namespace pgship::io {

boost::asio::awaitable<std::error_code> pump_file_async(int fd, std::uint64_t offset,
                                                        std::uint64_t length,
                                                        const async_block_sink& out,
                                                        std::size_t block) {
  std::vector<char> buffer(block);
  while (length > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length, buffer.size()));
    const ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) co_return std::error_code(errno, std::generic_category());
    if (n == 0) co_return std::make_error_code(std::errc::io_error);  // shorter than asked
    const std::span<const char> piece(buffer.data(), static_cast<std::size_t>(n));
    if (auto ec = co_await out(piece)) co_return ec;
    offset += static_cast<std::uint64_t>(n);
    length -= static_cast<std::uint64_t>(n);
  }
  co_return std::error_code{};
}

}  // namespace pgship::io
