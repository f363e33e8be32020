#include "ingest/body_stream.hpp"
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgship::receiver {
namespace {

// A ring of buffers per upload: hashing may fall behind receiving by up to ring_size - 1
// buffers, so a stall on either side does not stop the other at once. Measured on 2 cores (4
// GiB over loopback, 6 alternating runs): 2 x 512 KiB 878 MB/s, 8 x 256 KiB 1003 MB/s. 16
// concurrent uploads hold 32 MiB of buffers.
constexpr std::size_t ring_size = 8;
constexpr std::size_t buffer_size = 256 * 1024;

// Hashes each buffer's pieces on the pool, every hasher in order on its own strand, and
// tells the I/O thread when buffers are free again. Buffers finish in the order they were
// handed over: each hasher's jobs run in order, and a buffer is done once its last one is.
class hash_jobs {
 public:
  hash_jobs(net::any_io_executor io, net::thread_pool& pool, std::vector<sha256*> hashers,
            byte_observer observer)
      : shared_(std::make_shared<shared>(std::move(io))) {
    for (sha256* h : hashers)
      hashers_.push_back(
          {[h](std::string_view piece) { h->update(piece); }, net::make_strand(pool)});
    if (observer) hashers_.push_back({std::move(observer), net::make_strand(pool)});
  }

  // A coroutine torn down mid-stream must not free buffers a pool thread still reads: wait
  // for the jobs, which hash at most a few buffers (about a millisecond).
  ~hash_jobs() {
    std::unique_lock lock(shared_->mutex);
    shared_->idle.wait(lock, [&] { return shared_->running == 0; });
  }
  hash_jobs(const hash_jobs&) = delete;
  hash_jobs& operator=(const hash_jobs&) = delete;

  std::size_t in_flight() const { return in_flight_; }

  /// Hashes `pieces` after everything handed over before (also when empty, so that buffers
  /// are counted in order).
  void start(hash_pieces pieces) {
    // A constructor, not an aggregate: clang before 16 cannot make_shared an aggregate.
    struct job {
      job(hash_pieces p, std::size_t n) : pieces(std::move(p)), left(n) {}
      hash_pieces pieces;
      std::atomic<std::size_t> left;
    };
    const auto j = std::make_shared<job>(std::move(pieces), hashers_.size());
    ++in_flight_;
    {
      std::lock_guard lock(shared_->mutex);
      ++shared_->running;
    }
    const auto finish = [s = shared_] {
      std::lock_guard lock(s->mutex);
      s->done.try_send(error_code{});
      if (--s->running == 0) s->idle.notify_all();
    };
    if (hashers_.empty()) return finish();
    for (auto& [hasher, strand] : hashers_) {
      net::post(strand, [j, hasher = &hasher, finish] {
        for (const auto piece : j->pieces)
          (*hasher)(piece);
        if (--j->left == 0) finish();
      });
    }
  }

  /// Waits until the oldest buffer handed over is hashed.
  net::awaitable<void> wait_oldest() {
    co_await shared_->done.async_receive(net::as_tuple(net::use_awaitable));
    --in_flight_;
  }

 private:
  struct shared {
    explicit shared(net::any_io_executor io) : done(std::move(io), ring_size) {}
    net::experimental::concurrent_channel<void(error_code)> done;
    std::mutex mutex;
    std::condition_variable idle;
    int running = 0;
  };
  struct hasher_lane {
    byte_observer hasher;
    net::strand<net::thread_pool::executor_type> strand;
  };

  std::vector<hasher_lane> hashers_;
  const std::shared_ptr<shared> shared_;
  std::size_t in_flight_ = 0;
};

}  // namespace

net::awaitable<body_stream_result> stream_body(http_server::exchange& ex, net::thread_pool& pool,
                                               std::vector<sha256*> hashers, body_consumer consume,
                                               std::shared_ptr<io::byte_rate_limiter> rate,
                                               byte_observer observer) {
  // Under a rate, smaller reads: the wait after each stays short and the rate smooth.
  const std::size_t piece =
      rate ? std::clamp<std::size_t>(rate->rate() / 10, 16 * 1024, buffer_size) : buffer_size;
  // Declared before the jobs so that they outlive a job still running at teardown. Allocated
  // on first use and not zeroed: a small body (a tus commit retry, a form) takes one.
  std::vector<std::unique_ptr<char[]>> buffers(ring_size);
  hash_jobs hashing(co_await net::this_coro::executor, pool, std::move(hashers),
                    std::move(observer));

  body_stream_result result;
  for (std::size_t turn = 0;; ++turn) {
    // Jobs finish in order: with fewer than ring_size in flight, this buffer's last job
    // (ring_size turns ago) is done.
    if (hashing.in_flight() == ring_size) co_await hashing.wait_oldest();
    auto& buffer = buffers[turn % ring_size];
    if (!buffer) buffer = std::make_unique_for_overwrite<char[]>(buffer_size);
    auto [ec, n] = co_await ex.read_body_full(net::buffer(buffer.get(), piece));
    if (rate && n > 0) co_await rate->take(n);
    hash_pieces pieces;
    if (n > 0 && !consume({buffer.get(), n}, pieces)) result.stopped = true;
    hashing.start(std::move(pieces));
    if (ec) {
      result.read_error = ec;
      break;
    }
    if (result.stopped || n < piece) break;
  }
  while (hashing.in_flight() > 0)
    co_await hashing.wait_oldest();
  co_return result;
}

}  // namespace pgship::receiver
