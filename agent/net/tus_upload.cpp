#include "net/tus_upload.hpp"
#include <cerrno>
#include <cstring>
#include <random>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgship/common/log.hpp>
#include <pgship/common/sha256.hpp>

#include "net/retry_policy.hpp"
#include "net/tus_wire.hpp"

namespace pgship::agent {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using clock = std::chrono::steady_clock;

class progress_meter {
 public:
  progress_meter(std::uint64_t total, std::chrono::seconds every, const log::context& lg)
      : total_(total), every_(every), start_(clock::now()), last_(start_), log_(lg) {}

  void report(std::uint64_t offset) {
    const auto now = clock::now();
    if (now - last_ < every_) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(offset - first_offset_) / secs : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total_ - offset) / rate : 0.0;
    log_.info(
        "upload progress: {:.1f} of {:.1f} MiB ({:.0f}%), {:.1f} MB/s, ETA {:.0f} s",
        static_cast<double>(offset) / 1048576.0, static_cast<double>(total_) / 1048576.0,
        total_ == 0 ? 100.0 : 100.0 * static_cast<double>(offset) / static_cast<double>(total_),
        rate / 1e6, eta);
  }
  void restart_at(std::uint64_t offset) {
    first_offset_ = offset;
    start_ = clock::now();
  }

 private:
  std::uint64_t total_;
  std::chrono::seconds every_;
  clock::time_point start_, last_;
  std::uint64_t first_offset_ = 0;
  const log::context& log_;
};

class tus_upload {
 public:
  tus_upload(http_client& client, const upload_request& request, const upload_watch& watch,
             upload_output& out, int fd)
      : client_(client),
        req_(request),
        watch_(watch),
        out_(out),
        fd_(fd),
        progress_(out.size, request.progress_interval, request.log),
        location_(request.resume_at) {}

  const std::string& location() const { return location_; }

  net::awaitable<attempt_end> attempt() {
    if (location_.empty()) {
      auto created = co_await create();
      if (created.error || out_.already_stored) co_return created;
    } else {
      auto found = co_await find_offset();
      if (found.error) co_return found;
      if (location_.empty()) {  // the receiver no longer has it: start over
        auto created = co_await create();
        if (created.error || out_.already_stored) co_return created;
      }
    }
    while (offset_ < out_.size) {
      if (watch_.stopping())
        co_return give_up(errc::cancelled, "upload stopped: the run was cancelled");
      auto sent = co_await patch_chunk();
      if (sent.error) co_return sent;
      if (location_.empty()) co_return retry_with(errc::upload_failed, "the upload vanished");
    }
    if (!committed_) {
      // Every byte is there but no PATCH saw the commit succeed (it failed, or the answer was
      // lost): a PATCH of zero bytes at the full offset asks the receiver to commit again.
      auto sent = co_await patch_range(0);
      if (sent.error) co_return sent;
    }
    co_return attempt_end{};
  }

 private:
  http_request base(http::verb method, std::string target) const {
    return tus_request(method, std::move(target), req_.token);
  }

  net::awaitable<attempt_end> create() {
    auto r = base(http::verb::post, client_.endpoint().target(wire::uploads_path));
    r.set(tus::header::upload_length, std::to_string(out_.size));
    r.set(tus::header::upload_metadata, tus::encode_metadata(req_.name, req_.sha256_hex));
    const auto reply = co_await client_.send(std::move(r));
    if (reply.ok() && reply.status() == 200) {
      // The receiver already stores this very backup (same name, same sha256).
      out_.already_stored = true;
      co_return attempt_end{};
    }
    if (!reply.ok() || reply.status() != 201) co_return from_reply(reply, "creating the upload");
    const auto location = reply.response[http::field::location];
    if (location.empty()) {
      co_return give_up(errc::upload_rejected, "the receiver created an upload without a Location");
    }
    location_ = location_target(location, client_.endpoint());
    if (location_.empty()) {
      co_return give_up(errc::upload_rejected, "the receiver created the upload on another host: " +
                                                   std::string(location));
    }
    offset_ = 0;
    committed_ = false;
    deferred_ = false;
    co_return attempt_end{};
  }

  net::awaitable<attempt_end> find_offset() {
    const auto reply = co_await client_.send(base(http::verb::head, location_));
    if (reply.ok() && (reply.status() == 404 || reply.status() == 410)) {
      req_.log.warn("the receiver no longer has the upload {}; starting over", location_);
      location_.clear();
      offset_ = 0;
      co_return attempt_end{};
    }
    if (!reply.ok() || reply.status() != 200) co_return from_reply(reply, "asking for the offset");
    const auto offset = header_u64(reply.response, tus::header::upload_offset);
    const auto length = header_u64(reply.response, tus::header::upload_length);
    // One created while pg_dump ran: its PATCHes say the length and the sha256 it must have.
    deferred_ = reply.response[tus::header::upload_defer_length] == tus::defer_length_value;
    if (length && *length != out_.size) {
      // Not an upload of this file (a resume_at kept from elsewhere): make a new one.
      req_.log.warn("the receiver's upload {} is {} bytes long, the file {}; starting over",
                    location_, *length, out_.size);
      location_.clear();
      offset_ = 0;
      co_return attempt_end{};
    }
    if (!offset || *offset > out_.size) {
      location_.clear();  // nothing to continue in a later run either
      co_return give_up(errc::upload_rejected,
                        "the receiver answered HEAD without a valid Upload-Offset");
    }
    if (*offset > 0) {
      ++out_.resumes;
      req_.log.info("resuming the upload at offset {}", *offset);
    }
    offset_ = *offset;
    progress_.restart_at(offset_);
    co_return attempt_end{};
  }

  net::awaitable<attempt_end> patch_chunk() {
    co_return co_await patch_range(std::min(req_.chunk_size, out_.size - offset_));
  }

  // PATCH of `length` bytes at the current offset (zero: a commit retry at the full offset).
  net::awaitable<attempt_end> patch_range(std::uint64_t length) {
    const auto digest = hash_range(fd_, offset_, length);
    if (!digest) {
      co_return give_up(errc::local_io_failed,
                        "cannot read " + req_.file.string() + ": " + std::strerror(errno));
    }
    auto r = tus_patch(location_, req_.token, offset_, *digest);
    if (deferred_) set_final_length(r, out_.size, req_.sha256_hex);
    std::function<void(std::size_t)> on_sent = [this](std::size_t n) {
      out_.bytes_sent += n;
      watch_.sent(n);
      progress_.report(offset_);
    };
    const auto reply =
        co_await client_.send_file_range(std::move(r), fd_, offset_, length, on_sent);
    if (reply.ok() && (reply.status() == 404 || reply.status() == 410)) {
      // Expired or removed on the receiver: the next attempt starts a new upload.
      location_.clear();
      offset_ = 0;
      co_return retry_with(errc::upload_failed, "the receiver no longer has the upload (HTTP " +
                                                    std::to_string(reply.status()) + ")");
    }
    if (!reply.ok() || reply.status() / 100 != 2) co_return from_reply(reply, "sending a chunk");
    const auto next = header_u64(reply.response, tus::header::upload_offset);
    if (!next || *next != offset_ + length) {
      // Out of step with the receiver: ask it where it stands.
      const std::string reported = next ? std::to_string(*next) : std::string("none");
      co_return retry_with(errc::upload_failed, "the receiver reported offset " + reported +
                                                    ", expected " +
                                                    std::to_string(offset_ + length));
    }
    offset_ = *next;
    // A 2xx to the PATCH that reaches the full length is the receiver's word that the
    // whole-file hash matched and the backup is committed.
    if (offset_ == out_.size) committed_ = true;
    progress_.report(offset_);
    co_return attempt_end{};
  }

  http_client& client_;
  const upload_request& req_;
  const upload_watch& watch_;
  upload_output& out_;
  int fd_;
  progress_meter progress_;
  std::string location_;
  std::uint64_t offset_ = 0;
  bool committed_ = false;
  bool deferred_ = false;  // the receiver still waits for the length
};

}  // namespace

net::awaitable<stage_error> tus_upload_file(http_client& client, const upload_request& request,
                                            const upload_watch& watch, upload_output& out) {
  const int fd = ::open(request.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    co_return fail(errc::local_io_failed,
                   "cannot open " + request.file.string() + ": " + std::strerror(errno));
  }
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_fd{fd};
  struct stat st {};
  ::fstat(fd, &st);
  out.size = static_cast<std::uint64_t>(st.st_size);

  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  tus_upload upload(client, request, watch, out, fd);
  // However the stage ends, the caller learns where the upload stands.
  struct record_location {
    upload_output& out;
    const tus_upload& upload;
    ~record_location() { out.location = upload.location(); }
  } record{out, upload};
  // Waits the receiver asks for (429 + Retry-After) spend no retry, up to this much in all.
  constexpr std::chrono::minutes max_throttled{30};
  std::chrono::seconds throttled{0};
  for (;;) {
    const auto end = co_await upload.attempt();
    if (!end.error) co_return stage_error{};
    if (!end.retryable) co_return end.error;
    if (end.wait && throttled + *end.wait <= max_throttled) {
      throttled += *end.wait;
      request.log.info("the receiver asks to wait {} s: {}", end.wait->count(), end.error.message);
      client.close();
      const bool go_on = co_await sleep_unless(*end.wait, watch.stopping);
      if (!go_on) co_return fail(errc::cancelled, "upload stopped: the run was cancelled");
      continue;
    }
    if (out.retries >= request.max_retries) {
      co_return fail(errc::upload_failed, "upload failed after " + std::to_string(out.retries) +
                                              " retries: " + end.error.message);
    }
    ++out.retries;
    client.close();
    const auto delay = backoff_delay(request.retry_delay, out.retries, unit(rng));
    request.log.warn("upload attempt failed, retry {} of {} in {:.1f} s: {}", out.retries,
                     request.max_retries, static_cast<double>(delay.count()) / 1000.0,
                     end.error.message);
    const bool go_on = co_await sleep_unless(delay, watch.stopping);
    if (!go_on) co_return fail(errc::cancelled, "upload stopped: the run was cancelled");
  }
}

}  // namespace pgship::agent
