#pragma once
// A tus upload fed from memory, for bytes that are never a file on this host (a base backup
// straight from pg_basebackup): created with creation-defer-length, filled by the chain's
// end (sink()), sent in fixed-size chunks, one PATCH in flight while the next chunk fills.
// The producer calls pace() after each write: once a chunk is full it waits for the one in
// flight, so memory holds about two chunks and a slow receiver slows the producer down.
// The last PATCH carries Upload-Length and the whole stream's sha256 (X-Content-SHA256); the
// receiver commits only then. A failed PATCH is retried (net/retry_policy) after a HEAD says
// what the receiver already holds, resending the rest of the kept chunk; what was sent before
// that chunk is gone from memory, so a receiver that lost it (404, an offset behind the chunk)
// ends the upload, and so do lasting failures.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pgship/common/io/sink.hpp>
#include <pgship/common/log.hpp>

#include "net/http_client.hpp"
#include "net/tus_wire.hpp"
#include "net/upload_job.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct tus_stream_request {
  std::string name;   // the backup's file name, as the receiver will store it
  std::string token;  // BACKUP_API_TOKEN
  // Memory holds two: 4 MiB keeps a base backup's agent within 64 MiB beside zstd's workers.
  std::size_t chunk_size = 4 * 1024 * 1024;
  int max_retries = 3;
  std::chrono::milliseconds retry_delay{5000};
  log::context log;
};

class tus_stream {
 public:
  /// `client` and `watch` must outlive this.
  tus_stream(boost::asio::any_io_executor ex, http_client& client, tus_stream_request request,
             const upload_watch& watch);
  ~tus_stream();
  tus_stream(const tus_stream&) = delete;
  tus_stream& operator=(const tus_stream&) = delete;

  /// Creates the upload (retried like a PATCH).
  boost::asio::awaitable<stage_error> create();
  /// Where the chain's stored bytes go (into the chunk that fills).
  io::sink& sink();
  /// After each write into sink(): a full chunk is handed to the sender, once the one in
  /// flight is done. The first failure of a PATCH comes back here (and from then on).
  boost::asio::awaitable<stage_error> pace();
  /// After the chain finished: the rest with Upload-Length = every byte and `sha256_hex`;
  /// returns once the receiver committed (or the upload failed).
  boost::asio::awaitable<stage_error> finish(const std::string& sha256_hex);
  /// Gives up: waits for a PATCH in flight, then DELETE (a failure is logged; the upload
  /// expires on the receiver). Call on every path that does not finish().
  boost::asio::awaitable<void> abandon();

  /// Bytes the receiver holds.
  std::uint64_t offset() const { return offset_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  int retries() const { return retries_; }
  int resumes() const { return resumes_; }
  /// The largest amount of stream bytes held at once (the chunk filling plus the one in
  /// flight), for tests and the log.
  std::size_t peak_held() const { return peak_held_; }

 private:
  class chunk_sink;

  boost::asio::awaitable<void> wait_in_flight();
  void start_send(bool last);
  boost::asio::awaitable<stage_error> send_chunk(bool last);
  boost::asio::awaitable<attempt_end> patch_once(std::size_t skip, bool last);
  boost::asio::awaitable<stage_error> resync(std::size_t& skip, bool last, bool& done);
  void note_held();
  void reserve_filling();

  boost::asio::any_io_executor ex_;
  http_client& client_;
  tus_stream_request req_;
  const upload_watch& watch_;
  std::unique_ptr<chunk_sink> sink_;
  std::vector<char> filling_;
  std::vector<char> in_flight_;
  std::uint64_t in_flight_at_ = 0;  // stream offset of in_flight_'s first byte
  bool sending_ = false;
  stage_error failed_;  // the sender's failure, kept
  boost::asio::steady_timer wake_;
  std::string location_;
  std::string sha256_hex_;   // set for the last chunk
  std::uint64_t total_ = 0;  // set for the last chunk
  std::uint64_t offset_ = 0;
  std::uint64_t bytes_sent_ = 0;
  int retries_ = 0;
  int resumes_ = 0;
  std::size_t peak_held_ = 0;
};

}  // namespace pgship::agent
