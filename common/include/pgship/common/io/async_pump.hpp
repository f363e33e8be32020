#pragma once
// The chain's file source for an asynchronous end (a socket, a pipe): pump_file's blocks,
// each awaited by the consumer before the next is read, so a slow peer slows the reader down
// and one block is all that is held.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <system_error>

#include <boost/asio/awaitable.hpp>

namespace pgship::io {

/// Takes one block (valid until it returns); an error stops the pump and is returned by it.
using async_block_sink =
    std::function<boost::asio::awaitable<std::error_code>(std::span<const char>)>;

/// Reads bytes [offset, offset + length) of `fd` (to its end when `length` is nullopt) with
/// range_reader in blocks of `block` bytes and awaits `out` with each. A file shorter than
/// asked is std::errc::io_error; a read failure is its errno.
boost::asio::awaitable<std::error_code> pump_file_async(int fd, std::uint64_t offset,
                                                        std::optional<std::uint64_t> length,
                                                        const async_block_sink& out,
                                                        std::size_t block = 256 * 1024);

}  // namespace pgship::io
