#include "wal/wal_stream.hpp"
#include <algorithm>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/log.hpp>
#include <pgship/common/time_text.hpp>

#include "net/receiver_api.hpp"
#include "net/wal_api.hpp"
#include "wal/slot_watch.hpp"
#include "wal/unit_shipping.hpp"

namespace pgship::agent::wal {

namespace net = boost::asio;
using std::chrono::milliseconds;
using clock = wal_stream::clock;

namespace {

// Sealed bytes held before the stream stops draining the server.
constexpr std::uint64_t ship_budget = 32ull << 20;

}  // namespace

io::stored_format wal_format(const settings& cfg) {
  io::stored_format f;
  f.compress = cfg.compression == io::to_string(io::compression::none) ? io::compression::none
                                                                       : io::compression::zstd;
  f.encrypt = cfg.encrypt_recipients.empty() ? io::encryption::none : io::encryption::age;
  return f;
}

io::codec_settings wal_codec(const settings& cfg) {
  io::codec_settings c;
  c.zstd_level = cfg.zstd_level;
  c.zstd_threads = 0;
  c.recipients = cfg.encrypt_recipients;
  return c;
}

stream_config stream_config_of(const settings& cfg) {
  stream_config c;
  c.login.host = cfg.postgres_host;
  c.login.port = cfg.postgres_port;
  c.login.user = cfg.replication_user;
  c.login.password = cfg.replication_password;
  c.slot = cfg.wal_slot;
  if (!cfg.databases.empty()) c.watch_database = cfg.databases.front();
  c.ack_interval = cfg.wal_ack_interval;
  c.format = wal_format(cfg);
  c.codec = wal_codec(cfg);
  return c;
}

namespace {

// The session's reads of the archive and its gap records go on a connection of their own: the
// queue's unit PUTs (retried with back-off while the receiver is away) hold theirs, and an
// http_client carries one request at a time.
struct receiver_link {
  net::any_io_executor ex;
  settings cfg;
  std::unique_ptr<wal_api> control;

  std::unique_ptr<wal_api> api_for(const std::string& system) const {
    return std::make_unique<wal_api>(make_receiver_client(ex, cfg), cfg.backup_api_token, system);
  }
  wal_api& control_for(const std::string& system) {
    if (!control || control->system() != system) control = api_for(system);
    return *control;
  }
};

net::awaitable<stage_error> post_gap_of(std::shared_ptr<receiver_link> link, std::string system,
                                        wire::wal::gap_record gap) {
  co_return co_await link->control_for(system).post_gap(gap);
}

net::awaitable<stage_error> get_state_of(std::shared_ptr<receiver_link> link, std::string system,
                                         wire::wal::archive_state* state) {
  co_return co_await link->control_for(system).get_state(*state);
}

}  // namespace

wal_receiver receiver_of(net::any_io_executor ex, const settings& cfg) {
  auto link = std::make_shared<receiver_link>();
  link->ex = ex;
  link->cfg = cfg;
  wal_receiver r;
  r.get_state = [link](std::string system, wire::wal::archive_state& state) {
    return get_state_of(link, std::move(system), &state);
  };
  r.post_gap = [link](std::string system, wire::wal::gap_record gap) {
    return post_gap_of(link, std::move(system), std::move(gap));
  };
  r.sender_for = [link](std::string system) {
    // Units go one after the other on the queue's own connection.
    std::shared_ptr<wal_api> units = link->api_for(system);
    return ship_queue::sender(
        [units](const sealed_unit& unit) { return put_sealed_unit(*units, unit); });
  };
  return r;
}

struct wal_stream::impl final : unit_sink {
  impl(net::any_io_executor executor, stream_config c, wal_receiver r)
      : ex(executor),
        config(std::move(c)),
        receiver(std::move(r)),
        queue_done(executor),
        backoff_timer(executor),
        room_timer(executor),
        stopped_timer(executor),
        watch_done(executor) {}

  net::any_io_executor ex;
  stream_config config;
  wal_receiver receiver;

  std::string system;  // the queue's
  std::unique_ptr<ship_queue> queue_;
  net::cancellation_signal queue_cancel;
  bool queue_running = false;
  net::steady_timer queue_done;
  ship_position tail_;
  std::set<timeline_id> histories;  // stored on the receiver or queued, for `system`
  std::uint64_t gaps_recorded = 0;
  wal_stream::gap_callback gap_hook;
  wal_stream::archive_callback archive_hook;
  lsn archive_end = 0;  // the receiver's durable end when the session opened, on tail_'s timeline
  milliseconds ship_first{250}, ship_cap{5000};

  std::unique_ptr<slot_watch> watch;
  net::cancellation_signal watch_cancel;
  bool watch_running = false;

  session_progress progress;
  stream_session* session = nullptr;
  net::cancellation_signal session_cancel;
  bool stopping = false;
  bool running = false;
  std::string last_error;
  clock::time_point down_since = clock::now();
  net::steady_timer backoff_timer;
  net::steady_timer room_timer;  // cancelled by the queue's progress
  net::steady_timer stopped_timer;
  net::steady_timer watch_done;
  milliseconds first_backoff{500}, max_backoff{10000};

  net::awaitable<void> retire_queue() {
    if (!queue_) co_return;
    if (queue_running) {
      queue_cancel.emit(net::cancellation_type::terminal);
      while (queue_running) {
        queue_done.expires_at(clock::time_point::max());
        co_await queue_done.async_wait(net::as_tuple(net::use_awaitable));
      }
    }
    queue_.reset();
    tail_ = {};
    histories.clear();
    archive_end = 0;
  }

  net::awaitable<stage_error> open(const std::string& wanted,
                                   wire::wal::archive_state& state) override {
    if (queue_ && (wanted != system || queue_->failed())) co_await retire_queue();
    auto e = co_await receiver.get_state(wanted, state);
    if (e) co_return e;
    if (archive_hook) net::post(ex, [hook = archive_hook, wanted, state] { hook(wanted, state); });
    if (!queue_) {
      system = wanted;
      queue_ = std::make_unique<ship_queue>(ex, receiver.sender_for(wanted), ship_budget);
      queue_->set_backoff(ship_first, ship_cap);
      queue_->on_progress([this] {
        if (session != nullptr) session->wake();
        room_timer.cancel();
      });
      queue_->on_retry([](const stage_error& error, milliseconds wait) {
        log::write(spdlog::level::warn,
                   "shipping WAL failed, retrying in " + std::to_string(wait.count()) +
                       " ms: " + error.message,
                   {{"reason", std::string(error_name(static_cast<errc>(error.code.value())))}});
      });
      queue_running = true;
      net::co_spawn(ex, queue_->run(),
                    net::bind_cancellation_slot(queue_cancel.slot(), [this](std::exception_ptr x) {
                      queue_running = false;
                      queue_done.cancel();
                      if (x) {
                        try {
                          std::rethrow_exception(x);
                        } catch (const std::exception& ex_what) {
                          log::write(spdlog::level::err,
                                     std::string("the WAL ship queue failed: ") + ex_what.what(),
                                     {});
                        }
                      }
                    }));
    }
    for (const auto& t : state.timelines)
      if (t.history) histories.insert(t.timeline);
    if (const auto end = state.durable_end()) {
      if (tail_.timeline == 0 || tail_.timeline == end->timeline) {
        archive_end = end->at;
        if (tail_.end < end->at && queue_->queued_units() == 0) tail_ = {end->timeline, end->at};
      }
    }
    co_return stage_error{};
  }

  void ship(sealed_unit unit) override {
    if (unit.history) {
      histories.insert(unit.timeline);
    } else {
      tail_ = {unit.timeline, unit.end};
    }
    queue_->push(std::move(unit));
  }
  bool holds_history(timeline_id t) const override { return histories.contains(t); }

  net::awaitable<stage_error> record_gap(const wal_gap_range& gap, std::string reason) override {
    wire::wal::gap_record record;
    record.timeline = gap.timeline;
    record.from = gap.from;
    record.to = gap.to;
    record.reason = std::move(reason);
    record.detected_at = format_utc(std::chrono::system_clock::now(), true);
    if (receiver.post_gap) {
      if (auto e = co_await receiver.post_gap(system, record)) co_return e;
    }
    ++gaps_recorded;
    log::write(spdlog::level::err,
               "WAL gap recorded: the archive of system " + system + " misses [" +
                   pgship::wal::format_lsn(gap.from) + ", " + pgship::wal::format_lsn(gap.to) +
                   ") (" + record.reason + "); recovery cannot cross it: a base backup is needed",
               {{"system", system},
                {"timeline", std::to_string(gap.timeline)},
                {"from", pgship::wal::format_lsn(gap.from)},
                {"to", pgship::wal::format_lsn(gap.to)},
                {"reason", record.reason}});
    if (gap_hook) gap_hook(system, record);
    co_return stage_error{};
  }
  ship_position tail() const override { return tail_; }
  ship_queue& queue() override { return *queue_; }

  lsn durable() const {
    if (!queue_) return 0;
    const auto d = queue_->durable();
    const lsn acked = d.timeline == tail_.timeline ? d.end : 0;
    return std::max(acked, archive_end);
  }

  net::awaitable<stage_error> one_session(bool& streamed) {
    stream_session s(ex, config, *this, progress);
    session = &s;
    auto [x, e] = co_await net::co_spawn(
        ex, s.run(),
        net::bind_cancellation_slot(session_cancel.slot(), net::as_tuple(net::use_awaitable)));
    session = nullptr;
    streamed = progress.last_message != clock::time_point{};
    progress.streaming = false;
    progress.open_since.reset();
    if (x) co_return fail(errc::cancelled, "stopped");
    co_return e;
  }
};

wal_stream::wal_stream(net::any_io_executor ex, stream_config config, wal_receiver receiver)
    : impl_(std::make_unique<impl>(std::move(ex), std::move(config), std::move(receiver))) {}

wal_stream::~wal_stream() = default;

net::awaitable<void> wal_stream::run() {
  auto& s = *impl_;
  s.running = true;
  if (!s.config.watch_database.empty()) {
    auto login = s.config.login;
    login.database = s.config.watch_database;
    s.watch = std::make_unique<slot_watch>(s.ex, login, s.config.slot);
    s.watch_running = true;
    auto on_lost = [&s] {
      // The server removed the slot's WAL: reconnect now, so the gap is recorded and a new
      // slot made, rather than stream on until the server ends the connection.
      if (s.session != nullptr && s.session->streaming()) s.session->stop();
    };
    net::co_spawn(s.ex, s.watch->run(on_lost),
                  net::bind_cancellation_slot(s.watch_cancel.slot(), [&s](std::exception_ptr x) {
                    s.watch_running = false;
                    s.watch_done.cancel();
                    if (x) log::write(spdlog::level::err, "the slot watch failed", {});
                  }));
  }
  auto backoff = s.first_backoff;
  while (!s.stopping) {
    s.progress.last_message = {};
    bool streamed = false;
    const auto e = co_await s.one_session(streamed);
    if (streamed) {
      s.down_since = clock::now();
      backoff = s.first_backoff;
    }
    if (s.stopping) break;
    s.last_error = e ? e.message : "the stream ended";
    log::write(e.code == errc::replication_unavailable ? spdlog::level::warn : spdlog::level::err,
               "WAL stream: " + s.last_error + "; reconnecting in " +
                   std::to_string(backoff.count()) + " ms",
               {{"reason", std::string(error_name(static_cast<errc>(e.code.value())))}});
    s.backoff_timer.expires_after(backoff);
    co_await s.backoff_timer.async_wait(net::as_tuple(net::use_awaitable));
    backoff = std::min(backoff * 2, s.max_backoff);
    // A session that hung up over a full queue comes back once the receiver took some.
    while (!s.stopping && s.queue_ && s.queue_->over_budget() && !s.queue_->failed()) {
      s.room_timer.expires_after(s.max_backoff);
      co_await s.room_timer.async_wait(net::as_tuple(net::use_awaitable));
    }
  }
  co_await s.retire_queue();
  if (s.watch_running) {
    s.watch_cancel.emit(net::cancellation_type::terminal);
    while (s.watch_running) {
      s.watch_done.expires_after(std::chrono::seconds(1));
      co_await s.watch_done.async_wait(net::as_tuple(net::use_awaitable));
    }
  }
  s.running = false;
  s.stopped_timer.cancel();
  log::write(spdlog::level::info, "WAL stream stopped", {});
}

void wal_stream::stop() {
  auto& s = *impl_;
  s.stopping = true;
  s.backoff_timer.cancel();
  s.room_timer.cancel();
  if (s.session != nullptr) {
    if (s.session->streaming()) {
      s.session->stop();
    } else {
      s.session_cancel.emit(net::cancellation_type::terminal);
    }
  }
}

net::awaitable<void> wal_stream::wait_stopped(milliseconds limit) {
  auto& s = *impl_;
  const auto until = clock::now() + limit;
  while (s.running && clock::now() < until) {
    s.stopped_timer.expires_at(until);
    co_await s.stopped_timer.async_wait(net::as_tuple(net::use_awaitable));
  }
}

bool wal_stream::running() const {
  return impl_->running;
}

wal_status wal_stream::status(clock::time_point now) const {
  const auto& s = *impl_;
  wal_status st;
  st.up = s.progress.streaming;
  st.system_id = s.progress.system_id;
  st.timeline = s.progress.timeline;
  st.slot = s.config.slot;
  st.gaps_recorded = s.gaps_recorded;
  if (s.watch && s.watch->last()) {
    st.slot_retained_bytes = s.watch->last()->retained_bytes;
    st.slot_wal_status = s.watch->last()->wal_status;
  }
  st.server_lsn = s.progress.server_lsn;
  st.received_lsn = s.progress.received_lsn;
  st.durable_lsn = s.durable();
  st.lag_bytes = st.server_lsn > st.durable_lsn ? st.server_lsn - st.durable_lsn : 0;
  std::optional<clock::time_point> oldest = s.progress.open_since;
  if (s.queue_) {
    if (const auto pending = s.queue_->oldest_pending())
      oldest = oldest ? std::min(*oldest, *pending) : *pending;
    st.segments_shipped = s.queue_->segments_shipped();
    st.queued_bytes = s.queue_->queued_bytes();
  }
  if (!st.up) oldest = oldest ? std::min(*oldest, s.down_since) : s.down_since;
  if (oldest && now > *oldest)
    st.lag_seconds = std::chrono::duration<double>(now - *oldest).count();
  const std::string queue_error = s.queue_ ? s.queue_->last_error() : std::string();
  st.last_error = st.up || s.last_error.empty() ? queue_error : s.last_error;
  if (!st.up && now > s.down_since)
    st.down_for = std::chrono::duration_cast<std::chrono::seconds>(now - s.down_since);
  return st;
}

void wal_stream::on_gap(gap_callback callback) {
  impl_->gap_hook = std::move(callback);
}

void wal_stream::on_archive_opened(archive_callback callback) {
  impl_->archive_hook = std::move(callback);
}

void wal_stream::set_backoff(milliseconds first, milliseconds cap) {
  impl_->first_backoff = std::max(first, milliseconds(1));
  impl_->max_backoff = std::max(cap, impl_->first_backoff);
}

void wal_stream::set_ship_backoff(milliseconds first, milliseconds cap) {
  impl_->ship_first = first;
  impl_->ship_cap = cap;
}

}  // namespace pgship::agent::wal
