#include "pipeline/basebackup_unpack.hpp"
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/io/stored_format.hpp>

#include "pipeline/basebackup_writer.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

using token_channel = net::experimental::concurrent_channel<void(boost::system::error_code)>;

// Plaintext blocks from the download (on the executor) to the writer's thread: at most
// `slots` in flight, the download waiting (without blocking the executor) for a free one.
class block_handoff {
 public:
  block_handoff(net::any_io_executor ex, std::size_t slots) : free_(ex, slots), done_(ex, 1) {
    for (std::size_t i = 0; i < slots; ++i)
      free_.try_send(boost::system::error_code{});
  }

  // The download's side.
  net::awaitable<void> push(std::vector<char> block) {
    co_await free_.async_receive(net::as_tuple(net::use_awaitable));
    {
      const std::lock_guard lock(mutex_);
      blocks_.push_back(std::move(block));
    }
    ready_.notify_one();
  }
  void close() {
    {
      const std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_one();
  }
  net::awaitable<void> wait_done() {
    co_await done_.async_receive(net::as_tuple(net::use_awaitable));
  }

  // The writer's side.
  std::optional<std::vector<char>> pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !blocks_.empty() || closed_; });
    if (blocks_.empty()) return std::nullopt;
    auto block = std::move(blocks_.front());
    blocks_.pop_front();
    return block;
  }
  void release() { free_.try_send(boost::system::error_code{}); }
  void finished() { done_.try_send(boost::system::error_code{}); }

 private:
  token_channel free_;
  token_channel done_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::vector<char>> blocks_;
  bool closed_ = false;
};

// The writer's thread, joined however the coroutine ends: also when its frame is destroyed
// unfinished (the daemon stopping its io_context mid-download) or an exception leaves it.
class joined_writer {
 public:
  joined_writer(block_handoff& handoff, std::function<void()> work)
      : handoff_(handoff), thread_(std::move(work)) {}
  ~joined_writer() { join(); }
  joined_writer(const joined_writer&) = delete;
  joined_writer& operator=(const joined_writer&) = delete;
  void join() {
    if (!thread_.joinable()) return;
    handoff_.close();
    thread_.join();
  }

 private:
  block_handoff& handoff_;
  std::thread thread_;
};

constexpr std::size_t handoff_bytes = 1 << 20;
constexpr std::size_t handoff_slots = 8;

}  // namespace

net::awaitable<stage_error> fetch_and_unpack(fetch_restore_io io, const remote_backup& backup,
                                             const std::filesystem::path& dir,
                                             std::vector<stage_record>& stages,
                                             bool& needs_verifybackup) {
  needs_verifybackup = false;
  if (io::format_of_name(backup.id).encrypted() && io.identities.empty()) {
    co_return fail(errc::config_invalid,
                   backup.id +
                       " is encrypted: set AGE_IDENTITY_FILE to an identity of one of "
                       "its recipients");
  }
  stage_clock download(stages, "download");
  stage_clock unpack(stages, "unpack");
  block_handoff handoff(co_await net::this_coro::executor, handoff_slots);
  basebackup_writer writer(dir);
  std::atomic<bool> writer_failed{false};
  stage_error written;
  // The writer's thread: every block written (after a failure only released, so the
  // download never waits on it), then the archive and the manifest checked.
  joined_writer writing(handoff, [&] {
    while (auto block = handoff.pop()) {
      if (!writer_failed && writer.write(*block)) writer_failed = true;
      handoff.release();
    }
    written = writer.finish(needs_verifybackup);
    handoff.finished();
  });
  std::error_code consumer_ec;
  // Handed over in blocks of about a MiB (the last one whatever is left).
  plaintext_consumer to_writer = [&](io::buffer_sink& ready,
                                     bool last) -> net::awaitable<std::error_code> {
    if (writer_failed) co_return make_error_code(std::errc::io_error);
    if (ready.bytes().size() >= handoff_bytes || (last && !ready.bytes().empty())) {
      co_await handoff.push(ready.take());
    }
    co_return std::error_code{};
  };
  auto error =
      co_await stream_plaintext(io, backup, download, "unpack", std::move(to_writer), consumer_ec);
  handoff.close();
  co_await handoff.wait_done();
  writing.join();
  if (!error && io.child && io.child->kill_requested()) {
    error = fail(errc::cancelled, "unpacking " + backup.id + " stopped");
  }
  if (!error) error = std::move(written);
  if (!error && consumer_ec)
    error = fail(errc::restore_failed, "unpacking " + backup.id + " failed");
  unpack.done(writer.files(), !error);
  co_return error;
}

}  // namespace pgship::agent
