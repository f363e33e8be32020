#include "pipeline/wal_fetch.hpp"
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <pgship/common/wal/wal_names.hpp>

#include "pipeline/wal_bundle_writer.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace stdfs = std::filesystem;
using wire::wal::list_state;

namespace {

struct fetched_file {
  bool absent = false;
  bool complete = false;  // a whole segment or a history file: never changes again
  std::uint64_t segment_size = 0;
};

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

stage_error io_failure(const std::string& what, int err) {
  return fail(errc::local_io_failed, what + ": " + std::strerror(err));
}

// Runs `count` workers side by side on this executor; returns once every one has ended.
net::awaitable<void> run_side_by_side(std::size_t count,
                                      const std::function<net::awaitable<void>(std::size_t)>& make,
                                      const log::context& log) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer all_done(ex, net::steady_timer::time_point::max());
  std::size_t running = count;
  if (running == 0) co_return;
  for (std::size_t i = 0; i < count; ++i) {
    net::co_spawn(ex, make(i), [&running, &all_done, &log](std::exception_ptr e) {
      if (e) log.warn("a WAL fetch worker stopped on an exception");
      if (--running == 0) all_done.cancel();
    });
  }
  co_await all_done.async_wait(net::as_tuple(net::use_awaitable));
}

// One file of the archive into `path`, from its bundle (one request, however many units):
// written beside it, renamed there once whole and synced. `complete_only` (the spool): a
// partial segment is not written at all, so no crash can leave one under a name that later
// calls would take for a complete segment.
net::awaitable<stage_error> fetch_into(wal_api& api, const std::string& file,
                                       const stdfs::path& path, const io::age_secrets& secrets,
                                       fetched_file& out, bool complete_only = false) {
  const auto part = stdfs::path(path).concat(".pgship-part");
  const fd_guard fd(::open(part.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600));
  if (fd.get() < 0) co_return io_failure("creating " + part.string(), errno);
  wal_bundle_writer writer(fd.get(), secrets, "WAL " + file, complete_only);
  body_sink sink = [&writer](std::span<const char> data) -> net::awaitable<std::error_code> {
    co_return writer.write(data);
  };
  bool absent = false;
  auto error = co_await api.get_bundle(file, std::move(sink), absent);
  if (writer.error()) error = writer.error();  // what stopped the transfer, in its words
  if (!error && !absent && !writer.stopped_as_partial()) error = writer.finish();
  if (const auto& head = writer.head(); head && !error) {
    out.complete = head->state != list_state::partial;
    out.segment_size = head->segment_size;
  }
  out.absent = absent;
  const bool keep = !error && !absent && !writer.stopped_as_partial();
  if (keep && writer.head()->state != list_state::history &&
      ::ftruncate(fd.get(), static_cast<off_t>(writer.head()->segment_size)) != 0) {
    error = io_failure("padding " + part.string(), errno);
  }
  if (keep && !error && ::fdatasync(fd.get()) != 0)
    error = io_failure("syncing " + part.string(), errno);
  if (keep && !error && ::rename(part.c_str(), path.c_str()) != 0)
    error = io_failure("renaming " + part.string(), errno);
  if (!keep || error) {
    std::error_code ignored;
    stdfs::remove(part, ignored);
  }
  co_return error;
}

// A spooled file moved to where recovery wants it (copied when they are on two file systems).
stage_error take_from_spool(const stdfs::path& spooled, const stdfs::path& target) {
  if (::rename(spooled.c_str(), target.c_str()) == 0) return {};
  if (errno != EXDEV) return io_failure("moving " + spooled.string(), errno);
  std::error_code ec;
  const auto part = stdfs::path(target).concat(".pgship-part");
  stdfs::copy_file(spooled, part, stdfs::copy_options::overwrite_existing, ec);
  if (!ec) {
    const fd_guard fd(::open(part.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd.get() < 0 || ::fdatasync(fd.get()) != 0) ec = {errno, std::generic_category()};
  }
  if (!ec) stdfs::rename(part, target, ec);
  if (ec) {
    stdfs::remove(part, ec);
    return fail(errc::local_io_failed, "copying " + spooled.string() + ": " + ec.message());
  }
  stdfs::remove(spooled, ec);
  return {};
}

// One batch of prefetches: the segments still wanted, taken in order by a few workers, each
// on its own connection.
struct prefetch_batch {
  const wal_api_factory& open;
  const wal_fetch_request& request;
  std::deque<std::string> wanted;
  bool reached_end = false;  // the archive lacks a segment, or holds it only in part
};

net::awaitable<void> prefetch_worker(prefetch_batch& batch) {
  auto api = batch.open();
  const auto& request = batch.request;
  while (!batch.wanted.empty() && !batch.reached_end) {
    const auto file = batch.wanted.front();
    batch.wanted.pop_front();
    fetched_file got;
    const auto target = *request.spool / file;
    const auto e = co_await fetch_into(*api, file, target, request.secrets, got, true);
    if (e) {
      // A failure here costs only the prefetch: the call that needs the file asks again.
      request.log.debug("fetching {} ahead failed: {}", file, e.message);
      batch.reached_end = true;
    } else if (got.absent || !got.complete) {
      // Past the archive's end, or its growing last segment: nothing after it is there.
      batch.reached_end = true;
    }
  }
}

// The next complete segments fetched into the spool, `parallel` requests at a time.
net::awaitable<void> fill_spool(const wal_api_factory& open, const wal_fetch_request& request,
                                std::deque<std::string> wanted) {
  prefetch_batch batch{open, request, std::move(wanted)};
  if (batch.wanted.empty()) co_return;
  const auto workers = std::clamp<std::size_t>(request.parallel, 1, batch.wanted.size());
  const std::function<net::awaitable<void>(std::size_t)> make = [&batch](std::size_t) {
    return prefetch_worker(batch);
  };
  co_await run_side_by_side(workers, make, request.log);
}

// The segments after `segment` the spool should hold but does not; empty while it holds at
// least half of `ahead` of them (topped up in batches, not one per call).
std::deque<std::string> missing_ahead(const wal_fetch_request& request,
                                      const wal::segment_id& segment, std::uint64_t segment_size) {
  std::deque<std::string> missing;
  int held = 0;
  for (int i = 1; i <= request.ahead; ++i) {
    const auto name = wal::segment_name({segment.timeline, segment.number + i}, segment_size);
    std::error_code ec;
    if (stdfs::exists(*request.spool / name, ec)) {
      ++held;
    } else {
      missing.push_back(name);
    }
  }
  if (held * 2 >= request.ahead) missing.clear();
  return missing;
}

// The spool's prefetch lock: one prefetch at a time; held while one runs (flock on a file in
// the spool, released when its process ends, however it ends).
class prefetch_lock {
 public:
  explicit prefetch_lock(const stdfs::path& spool) {
    fd_ = ::open((spool / ".prefetch.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~prefetch_lock() {
    if (fd_ >= 0) ::close(fd_);
  }
  prefetch_lock(const prefetch_lock&) = delete;
  prefetch_lock& operator=(const prefetch_lock&) = delete;
  bool held() const { return fd_ >= 0; }
  /// The locked descriptor, now the caller's (the lock lasts while it, or a copy, is open).
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// Until `spooled` is there or no prefetch runs (at most a minute), when the running prefetch
// is bringing it (the lock file lists what it fetches): it arrives sooner than a second request
// for it would.
net::awaitable<void> wait_for_prefetch(const stdfs::path& spool, const stdfs::path& spooled) {
  {
    std::ifstream listed(spool / ".prefetch.lock");
    bool wanted = false;
    for (std::string name; std::getline(listed, name) && !wanted;)
      wanted = name == spooled.filename().string();
    if (!wanted) co_return;
  }
  net::steady_timer pause(co_await net::this_coro::executor);
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (;;) {
    std::error_code ec;
    if (stdfs::exists(spooled, ec)) co_return;
    if (prefetch_lock(spool).held()) co_return;  // none runs
    if (std::chrono::steady_clock::now() >= until) co_return;
    pause.expires_after(std::chrono::milliseconds(5));
    co_await pause.async_wait(net::as_tuple(net::use_awaitable));
  }
}

}  // namespace

bool is_archived_name(std::string_view file) {
  return wal::is_segment_name(file) || wal::parse_history_name(file).has_value();
}

net::awaitable<stage_error> fetch_wal(const wal_api_factory& open, const wal_fetch_request& request,
                                      wal_fetch_outcome& out, std::deque<std::string>& ahead) {
  out = wal_fetch_outcome::absent;
  ahead.clear();
  if (!is_archived_name(request.file)) co_return stage_error{};
  fetched_file got;
  bool from_spool = false;
  if (request.spool) {
    std::error_code ec;
    stdfs::create_directories(*request.spool, ec);
    if (ec) co_return fail(errc::local_io_failed, "PITR_SPOOL: " + ec.message());
    const auto spooled = *request.spool / request.file;
    // A prefetch that is still running may be bringing it: wait for that, not a second copy.
    co_await wait_for_prefetch(*request.spool, spooled);
    if (stdfs::exists(spooled, ec)) {
      if (auto e = take_from_spool(spooled, request.target)) co_return e;
      from_spool = true;
    }
  }
  if (!from_spool) {
    auto api = open();
    if (auto e = co_await fetch_into(*api, request.file, request.target, request.secrets, got))
      co_return e;
    if (got.absent) co_return stage_error{};
  }
  out = wal_fetch_outcome::fetched;
  if (!request.spool || !wal::is_segment_name(request.file)) co_return stage_error{};
  // The segment size: the archive's (its list said it), else the spooled file's own size.
  std::uint64_t segment_size = got.segment_size;
  if (segment_size == 0) {
    std::error_code ec;
    segment_size = stdfs::file_size(request.target, ec);
    if (ec) co_return stage_error{};
  }
  const auto segment = wal::parse_segment_name(request.file, segment_size);
  if (!segment || (!from_spool && !got.complete)) co_return stage_error{};
  ahead = missing_ahead(request, *segment, segment_size);
  co_return stage_error{};
}

net::awaitable<void> wait_prefetch_done(const stdfs::path& spool, std::chrono::milliseconds limit) {
  net::steady_timer pause(co_await net::this_coro::executor);
  const auto until = std::chrono::steady_clock::now() + limit;
  std::error_code ec;
  while (stdfs::exists(spool, ec) && !prefetch_lock(spool).held() &&
         std::chrono::steady_clock::now() < until) {
    pause.expires_after(std::chrono::milliseconds(20));
    co_await pause.async_wait(net::as_tuple(net::use_awaitable));
  }
}

int claim_prefetch(const stdfs::path& spool, const std::deque<std::string>& wanted) {
  prefetch_lock lock(spool);
  if (!lock.held()) return -1;  // another prefetch runs
  const int fd = lock.release();
  std::string names;
  for (const auto& name : wanted)
    names += name + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, names.data(), names.size(), 0) < 0) {
    // Unlisted, a call fetches its segment itself instead of waiting: slower, never wrong.
  }
  return fd;
}

net::awaitable<void> prefetch_wal(const wal_api_factory& open, const wal_fetch_request& request,
                                  std::deque<std::string> wanted) {
  if (!request.spool || wanted.empty()) co_return;
  co_await fill_spool(open, request, std::move(wanted));
}

}  // namespace pgship::agent
