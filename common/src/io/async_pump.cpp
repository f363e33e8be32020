#include <vector>

#include <pgship/common/io/async_pump.hpp>
#include <pgship/common/io/file_io.hpp>

namespace pgship::io {

boost::asio::awaitable<std::error_code> pump_file_async(int fd, std::uint64_t offset,
                                                        std::optional<std::uint64_t> length,
                                                        const async_block_sink& out,
                                                        std::size_t block) {
  std::vector<char> buffer(block);
  range_reader reader(fd, offset, length);
  for (std::size_t n = 0;;) {
    if (auto ec = reader.read(buffer, n)) co_return ec;
    if (n == 0) break;
    const std::span<const char> piece(buffer.data(), n);
    if (auto ec = co_await out(piece)) co_return ec;
  }
  co_return std::error_code{};
}

}  // namespace pgship::io
