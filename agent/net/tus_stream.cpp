#include "net/tus_stream.hpp"
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/retry_policy.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace http = boost::beast::http;

// The chain's end: appends to the chunk that fills.
class tus_stream::chunk_sink final : public io::sink {
 public:
  explicit chunk_sink(tus_stream& stream) : stream_(stream) {}
  std::error_code write(std::span<const char> data) override {
    stream_.filling_.insert(stream_.filling_.end(), data.begin(), data.end());
    stream_.note_held();
    return {};
  }
  std::error_code finish() override { return {}; }

 private:
  tus_stream& stream_;
};

tus_stream::tus_stream(net::any_io_executor ex, http_client& client, tus_stream_request request,
                       const upload_watch& watch)
    : ex_(ex),
      client_(client),
      req_(std::move(request)),
      watch_(watch),
      sink_(std::make_unique<chunk_sink>(*this)),
      wake_(ex) {
  reserve_filling();
}

tus_stream::~tus_stream() = default;

io::sink& tus_stream::sink() {
  return *sink_;
}

// A write that crosses the chunk's end lands whole in it: room for one more write beyond the
// chunk keeps the vector from growing, which would copy it and briefly hold it twice. Only the
// bytes written are ever touched, so the headroom costs address space, not memory.
void tus_stream::reserve_filling() {
  constexpr std::size_t write_headroom = 1024 * 1024;
  filling_.reserve(req_.chunk_size + write_headroom);
}

void tus_stream::note_held() {
  peak_held_ = std::max(peak_held_, filling_.size() + in_flight_.size());
}

net::awaitable<stage_error> tus_stream::create() {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int retry = 0;; ++retry) {
    auto r =
        tus_request(http::verb::post, client_.endpoint().target(wire::uploads_path), req_.token);
    r.set(tus::header::upload_defer_length, tus::defer_length_value);
    r.set(tus::header::upload_metadata, tus::encode_metadata(req_.name, std::nullopt));
    const auto reply = co_await client_.send(std::move(r));
    if (reply.ok() && reply.status() == 201) {
      location_ = location_target(reply.response[http::field::location], client_.endpoint());
      if (location_.empty()) {
        co_return fail(errc::upload_rejected, "the receiver created the upload of " + req_.name +
                                                  " without a usable Location");
      }
      co_return stage_error{};
    }
    const auto end = from_reply(reply, "creating the upload of " + req_.name);
    if (!end.retryable || retry >= req_.max_retries) co_return end.error;
    client_.close();
    const auto delay = end.wait ? std::chrono::duration_cast<std::chrono::milliseconds>(*end.wait)
                                : backoff_delay(req_.retry_delay, retry + 1, unit(rng));
    req_.log.warn("creating the upload failed, retry {} of {}: {}", retry + 1, req_.max_retries,
                  end.error.message);
    if (!co_await sleep_unless(delay, watch_.stopping)) {
      co_return fail(errc::cancelled, "upload stopped: the run was cancelled");
    }
  }
}

net::awaitable<void> tus_stream::wait_in_flight() {
  // The sender's completion cancels the timer; the flag is checked first, since a cancel
  // that comes before the wait is not remembered.
  while (sending_) {
    wake_.expires_at(net::steady_timer::time_point::max());
    co_await wake_.async_wait(net::as_tuple(net::use_awaitable));
  }
}

void tus_stream::start_send(bool last) {
  in_flight_.swap(filling_);
  filling_.clear();
  reserve_filling();
  in_flight_at_ = offset_;
  sending_ = true;
  net::co_spawn(ex_, send_chunk(last), [this](std::exception_ptr e, stage_error error) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        error = fail(errc::internal, std::string("upload sender crashed: ") + ex.what());
      }
    }
    if (error && !failed_) failed_ = std::move(error);
    in_flight_.clear();
    sending_ = false;
    wake_.cancel();
  });
}

net::awaitable<stage_error> tus_stream::pace() {
  if (failed_) co_return failed_;
  if (filling_.size() < req_.chunk_size) co_return stage_error{};
  co_await wait_in_flight();
  if (failed_) co_return failed_;
  start_send(false);
  co_return stage_error{};
}

net::awaitable<stage_error> tus_stream::finish(const std::string& sha256_hex) {
  co_await wait_in_flight();
  if (failed_) co_return failed_;
  sha256_hex_ = sha256_hex;
  total_ = offset_ + filling_.size();
  start_send(true);
  co_await wait_in_flight();
  co_return failed_;
}

net::awaitable<void> tus_stream::abandon() {
  co_await wait_in_flight();
  if (location_.empty()) co_return;
  auto r = tus_request(http::verb::delete_, location_, req_.token);
  const auto reply = co_await client_.send(std::move(r));
  if (!reply.ok() || reply.status() / 100 != 2) {
    req_.log.warn("cannot remove the unfinished upload {}: {}", location_,
                  reply.ok() ? describe_response(reply.response) : reply.message);
  }
  location_.clear();
}

net::awaitable<attempt_end> tus_stream::patch_once(std::size_t skip, bool last) {
  const std::span<const char> body =
      std::span<const char>(in_flight_.data(), in_flight_.size()).subspan(skip);
  const auto at = in_flight_at_ + skip;
  // No Upload-Checksum: the last PATCH's X-Content-SHA256 covers every byte, and the receiver
  // commits nothing else. A checksum per chunk would hash each stored byte twice more (here
  // and on the receiver) for a base backup that is CPU-bound on two cores; it would only find
  // a corruption a chunk earlier, and TCP and TLS already guard the bytes on the wire.
  auto r = tus_patch(location_, req_.token, at);
  if (last) set_final_length(r, total_, sha256_hex_);
  std::function<void(std::size_t)> on_sent = [this](std::size_t n) {
    bytes_sent_ += n;
    if (watch_.sent) watch_.sent(n);
  };
  const auto reply = co_await client_.send_bytes(std::move(r), body, on_sent);
  if (reply.ok() && (reply.status() == 404 || reply.status() == 410)) {
    // The earlier chunks are no longer in memory: nothing to start over from.
    co_return give_up(errc::upload_failed, "the receiver no longer has the upload of " + req_.name +
                                               " (HTTP " + std::to_string(reply.status()) + ")");
  }
  if (!reply.ok() || reply.status() / 100 != 2) co_return from_reply(reply, "sending a chunk");
  const auto next = header_u64(reply.response, tus::header::upload_offset);
  if (!next || *next != at + body.size()) {
    const std::string reported = next ? std::to_string(*next) : std::string("none");
    co_return retry_with(errc::upload_failed, "the receiver reported offset " + reported +
                                                  ", expected " + std::to_string(at + body.size()));
  }
  co_return attempt_end{};
}

// After a failed PATCH: what the receiver holds decides where the chunk is resent from.
net::awaitable<stage_error> tus_stream::resync(std::size_t& skip, bool last, bool& done) {
  const auto reply = co_await client_.send(tus_request(http::verb::head, location_, req_.token));
  if (!reply.ok() || reply.status() != 200) {
    const auto end = from_reply(reply, "asking for the upload's offset");
    co_return end.retryable ? fail(errc::receiver_unreachable, end.error.message) : end.error;
  }
  const auto held = header_u64(reply.response, tus::header::upload_offset);
  const auto chunk_end = in_flight_at_ + in_flight_.size();
  if (!held || *held < in_flight_at_ || *held > chunk_end) {
    const std::string said = held ? std::to_string(*held) : std::string("no offset");
    co_return fail(errc::upload_failed, "the receiver holds " + said + " bytes of " + req_.name +
                                            ", outside the chunk kept to resend (" +
                                            std::to_string(in_flight_at_) + " to " +
                                            std::to_string(chunk_end) + ")");
  }
  const auto length = header_u64(reply.response, tus::header::upload_length);
  // The last PATCH's answer was lost after the commit: the receiver says so with its length.
  done = *held == chunk_end && (!last || (length && *length == total_));
  const auto from = static_cast<std::size_t>(*held - in_flight_at_);
  if (from > skip) {
    ++resumes_;
    req_.log.info("the receiver holds {} bytes of {}: resending from there", *held, req_.name);
  }
  skip = from;
  co_return stage_error{};
}

net::awaitable<stage_error> tus_stream::send_chunk(bool last) {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  constexpr std::chrono::minutes max_throttled{30};
  std::chrono::seconds throttled{0};
  std::size_t skip = 0;
  stage_error last_error;
  for (;;) {
    auto end = co_await patch_once(skip, last);
    if (!end.error) break;
    if (!end.retryable) co_return end.error;
    last_error = end.error;
    // One retry may need several HEADs (the receiver restarting): each spends one.
    for (;;) {
      std::chrono::milliseconds delay;
      if (end.wait && throttled + *end.wait <= max_throttled) {
        throttled += *end.wait;
        delay = *end.wait;
        end.wait.reset();
        req_.log.info("the receiver asks to wait {} s: {}", delay.count() / 1000,
                      last_error.message);
      } else {
        if (retries_ >= req_.max_retries) {
          co_return fail(errc::upload_failed, "upload of " + req_.name + " failed after " +
                                                  std::to_string(retries_) +
                                                  " retries: " + last_error.message);
        }
        ++retries_;
        delay = backoff_delay(req_.retry_delay, retries_, unit(rng));
        req_.log.warn("upload chunk failed, retry {} of {} in {:.1f} s: {}", retries_,
                      req_.max_retries, static_cast<double>(delay.count()) / 1000.0,
                      last_error.message);
      }
      client_.close();
      if (!co_await sleep_unless(delay, watch_.stopping)) {
        co_return fail(errc::cancelled, "upload stopped: the run was cancelled");
      }
      bool done = false;
      auto synced = co_await resync(skip, last, done);
      if (!synced) {
        if (done) {
          offset_ = in_flight_at_ + in_flight_.size();
          co_return stage_error{};
        }
        break;
      }
      if (synced.code != make_error_code(errc::receiver_unreachable)) co_return synced;
      last_error = synced;
    }
  }
  offset_ = in_flight_at_ + in_flight_.size();
  co_return stage_error{};
}

}  // namespace pgship::agent
