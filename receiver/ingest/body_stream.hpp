#pragma once
// Streams an upload's body to its consumer while SHA-256 runs on the hash pool. One upload is
// one coroutine on one I/O thread; done there in turn, receiving, hashing and writing a byte
// cost ~1.4 ns and capped ingest at ~70 % of the disk's rate. Here the I/O thread receives
// and writes while earlier buffers are hashed on the pool (a ring of buffers), each hasher in
// order on its own strand, so a tus PATCH's whole-file and chunk hashes run side by side.

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include <pgship/common/http/exchange.hpp>
#include <pgship/common/io/byte_rate_limiter.hpp>
#include <pgship/common/sha256.hpp>

namespace pgship::receiver {

/// The bytes of one buffer that go into the hashes, in order. They must point into the buffer
/// handed to the consumer or into storage that outlives the stream.
using hash_pieces = std::vector<std::string_view>;

/// Called on the I/O thread with each buffer of body bytes: writes what it keeps and appends
/// the bytes to hash to `to_hash`. Returns false to stop reading.
using body_consumer = std::function<bool(std::string_view data, hash_pieces& to_hash)>;

struct body_stream_result {
  /// Why reading stopped early (beast timeout, eof, body_limit, partial_message); bytes that
  /// arrived before it were consumed and hashed.
  error_code read_error;
  /// The consumer returned false.
  bool stopped = false;
};

/// Sees the hashed pieces in order, on a pool thread, beside the hashers (the S3 store hashes
/// its parts there).
using byte_observer = std::function<void(std::string_view)>;

/// Reads the body of `ex` to its end (or an error, or until `consume` says stop). Every hasher
/// (and `observer`) has seen exactly the pieces `consume` named once this returns. With `rate`
/// the body is read no faster than it allows (in pieces of a tenth of a second's worth).
net::awaitable<body_stream_result> stream_body(
    http_server::exchange& ex, net::thread_pool& pool, std::vector<sha256*> hashers,
    body_consumer consume, std::shared_ptr<io::byte_rate_limiter> rate = nullptr,
    byte_observer observer = {});

}  // namespace pgship::receiver
