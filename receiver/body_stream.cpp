#include "body_stream.hpp"
#include <array>
#include <condition_variable>
#include <memory>
#include <mutex>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgship::receiver {
namespace {

// Two of these per upload: 16 concurrent uploads hold 16 MiB of buffers.
constexpr std::size_t buffer_size = 512 * 1024;

// Hashing of one buffer's pieces on the pool, awaited from the I/O thread. One job at a time.
class hash_job {
 public:
  hash_job(net::any_io_executor io, net::thread_pool& pool, std::vector<sha256*> hashers)
      : pool_(pool), hashers_(std::move(hashers)), shared_(std::make_shared<shared>(io)) {}

  // A coroutine torn down mid-stream must not free the buffer a pool thread still reads: wait
  // for the job, which hashes at most one buffer (well under a millisecond).
  ~hash_job() {
    std::unique_lock lock(shared_->mutex);
    shared_->idle.wait(lock, [&] { return shared_->running == 0; });
  }
  hash_job(const hash_job&) = delete;
  hash_job& operator=(const hash_job&) = delete;

  void start(hash_pieces pieces) {
    if (hashers_.empty()) return;
    const auto job = std::make_shared<const hash_pieces>(std::move(pieces));
    {
      std::lock_guard lock(shared_->mutex);
      shared_->running = static_cast<int>(hashers_.size());
    }
    started_ = true;
    for (sha256* hasher : hashers_) {
      net::post(pool_, [s = shared_, job, hasher] {
        for (const auto piece : *job)
          hasher->update(piece);
        std::lock_guard lock(s->mutex);
        if (--s->running == 0) {
          s->done.try_send(error_code{});
          s->idle.notify_all();
        }
      });
    }
  }

  net::awaitable<void> wait() {
    if (!started_) co_return;
    started_ = false;
    co_await shared_->done.async_receive(net::as_tuple(net::use_awaitable));
  }

 private:
  struct shared {
    explicit shared(net::any_io_executor io) : done(std::move(io), 1) {}
    net::experimental::concurrent_channel<void(error_code)> done;
    std::mutex mutex;
    std::condition_variable idle;
    int running = 0;
  };

  net::thread_pool& pool_;
  const std::vector<sha256*> hashers_;
  const std::shared_ptr<shared> shared_;
  bool started_ = false;
};

}  // namespace

net::awaitable<body_stream_result> stream_body(http_server::exchange& ex, net::thread_pool& pool,
                                               std::vector<sha256*> hashers,
                                               body_consumer consume) {
  // Declared before the job so that they outlive a job still running at teardown.
  std::array<std::vector<char>, 2> buffers;
  for (auto& b : buffers)
    b.resize(buffer_size);
  hash_job hashing(co_await net::this_coro::executor, pool, std::move(hashers));

  body_stream_result result;
  for (std::size_t turn = 0;; turn ^= 1) {
    // The job still running hashes the other buffer: this one is free.
    auto& buffer = buffers[turn];
    auto [ec, n] = co_await ex.read_body_full(net::buffer(buffer));
    hash_pieces pieces;
    if (n > 0 && !consume({buffer.data(), n}, pieces)) result.stopped = true;
    co_await hashing.wait();
    if (!pieces.empty()) hashing.start(std::move(pieces));
    if (ec) {
      result.read_error = ec;
      break;
    }
    if (result.stopped || n < buffer.size()) break;
  }
  co_await hashing.wait();
  co_return result;
}

}  // namespace pgship::receiver
