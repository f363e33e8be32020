#pragma once
// SHA-256 computed on a worker pool while the caller goes on with I/O. On our machines
// SHA-256 runs at about the disk's speed (1.1 GB/s with SHA-NI), so hashing in line with
// reading and writing costs nearly half the throughput; overlapping it gets that back.
//
// Use with two alternating buffers: update() waits for the previous chunk's hash, then starts
// this one, so a buffer may be refilled once the call after its own update() has returned.
// Buffers passed to update() must outlive this object: its destructor waits for the pending
// hash, which may still be reading one. Not thread-safe: one caller at a time.

#include <future>
#include <string_view>

#include <boost/asio/thread_pool.hpp>

#include <pgship/common/http/net.hpp>
#include <pgship/common/sha256.hpp>

namespace pgship {

class background_sha256 {
 public:
  background_sha256(net::thread_pool& pool, sha256 start = {});
  ~background_sha256();
  background_sha256(const background_sha256&) = delete;
  background_sha256& operator=(const background_sha256&) = delete;

  /// Starts hashing `data`, which must stay unchanged until the next update() or take().
  void update(std::string_view data);
  /// Waits for pending work and hands back the hasher (the object is then empty).
  sha256 take();

 private:
  void wait();

  net::thread_pool& pool_;
  sha256 hasher_;
  std::future<void> pending_;
};

}  // namespace pgship
