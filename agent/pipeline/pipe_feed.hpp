#pragma once
// The bridge from the synchronous filter chain to a child's stdin: what a chain collects in
// its buffer_sink is written to the pipe asynchronously, so a slow reader (pg_restore) slows
// the writer down and nothing piles up. Once the reader stops reading, the chain still runs
// to the end (its hashes must cover every byte) but nothing more is written.

#include <system_error>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/writable_pipe.hpp>

#include <pgship/common/io/sink.hpp>

namespace pgship::agent {

/// Writes what `out` holds to `pipe` and clears it; remembers a write failure in `pipe_ec`
/// and from then on only clears.
boost::asio::awaitable<void> drain_to_pipe(io::buffer_sink& out, boost::asio::writable_pipe& pipe,
                                           std::error_code& pipe_ec);

/// Pumps the whole file `fd` through `chain` (ending in `out`), drained into `pipe` as it
/// goes, then finishes the chain. Returns the chain's error (reading, a hash or zstd
/// failure); a pipe failure is left in `pipe_ec` for the caller to weigh.
boost::asio::awaitable<std::error_code> feed_file(int fd, io::sink& chain, io::buffer_sink& out,
                                                  boost::asio::writable_pipe& pipe,
                                                  std::error_code& pipe_ec);

}  // namespace pgship::agent
