#include "wal/stream_session.hpp"
#include <algorithm>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/log.hpp>

#include "pg_async.hpp"
#include "wal/replication_protocol.hpp"
#include "wal/unit_builder.hpp"

namespace pgship::agent::wal {

namespace net = boost::asio;
using namespace std::chrono_literals;
using pgship::wal::format_lsn;
using clock = stream_session::clock;

namespace {

// The queue gets this long to ship what the session sealed at a clean stop.
constexpr auto stop_ship_grace = 3s;
// Status updates at least this often, and at least twice per wal_sender_timeout.
constexpr auto longest_status_interval = 10s;

stage_error unavailable(std::string message) {
  return fail(errc::replication_unavailable, std::move(message));
}

net::awaitable<void> readable(pg_async* link, stage_error* out) {
  *out = co_await link->wait_readable();
}

}  // namespace

struct stream_session::impl {
  impl(net::any_io_executor executor, const stream_config& c, unit_sink& s, session_progress& p)
      : ex(executor), config(c), sink(s), progress(p), link(executor), wake_timer(executor) {}

  net::any_io_executor ex;
  const stream_config& config;
  unit_sink& sink;
  session_progress& progress;
  pg_async link;
  net::steady_timer wake_timer;
  bool woken = false;
  bool stopping = false;
  bool streaming = false;

  std::unique_ptr<unit_builder> builder;
  std::uint64_t segment_size = 0;
  timeline_id timeline = 0;
  lsn slot_restart = 0;   // flush is reported only from here on (never behind the slot)
  lsn known_durable = 0;  // the receiver's durable end this session started from, if it did
  lsn expected = 0;       // where the next XLogData must start
  lsn reported_flush = 0;
  bool reply_now = false;
  std::optional<clock::time_point> last_status;
  std::optional<std::chrono::milliseconds> sender_timeout;
  // The last message, or the last time we chose not to read (over budget): silence counts
  // only while we listen.
  clock::time_point heard;
  clock::time_point last_probe;

  void ship_all(std::vector<sealed_unit> units) {
    for (auto& u : units)
      sink.ship(std::move(u));
  }
  void seal_open() {
    if (!builder) return;
    if (auto u = builder->seal()) sink.ship(std::move(*u));
    progress.open_since.reset();
  }
  void note_open_unit() {
    const auto due = builder ? builder->deadline() : std::nullopt;
    if (due) {
      progress.open_since = *due - max_wait();
    } else {
      progress.open_since.reset();
    }
  }
  std::chrono::milliseconds max_wait() const {
    // Sealed at half the interval: the other half is for shipping and the receiver's fsync.
    return std::max(std::chrono::milliseconds(50), config.ack_interval / 2);
  }

  lsn flush_position() const {
    const auto durable =
        sink.tail().timeline == timeline ? sink.queue().durable() : ship_position{};
    const lsn d =
        durable.timeline == timeline ? std::max(durable.end, known_durable) : known_durable;
    return d >= slot_restart && d > 0 ? d : 0;
  }

  net::awaitable<stage_error> query(const std::string& sql, std::vector<pg_table>& out) {
    auto e = co_await link.exec(sql, out);
    if (e) co_return unavailable(sql.substr(0, sql.find(' ')) + " failed: " + e.message);
    co_return stage_error{};
  }

  net::awaitable<stage_error> send_status(bool ask_reply) {
    standby_status s;
    s.write = expected;
    s.flush = flush_position();
    s.send_time = to_pg_time(std::chrono::system_clock::now());
    s.reply_requested = ask_reply;
    const auto bytes = build_standby_status(s);
    auto e = co_await link.write_copy(bytes);
    if (e) co_return unavailable("sending a status update failed: " + e.message);
    reported_flush = s.flush;
    last_status = clock::now();
    co_return stage_error{};
  }

  /// One message of the COPY; an error ends the session.
  stage_error handle(const std::string& message, clock::time_point now) {
    std::string why;
    const auto parsed = parse_server_message(
        std::as_bytes(std::span<const char>(message.data(), message.size())), why);
    if (!parsed) return unavailable("the server sent " + why);
    progress.last_message = heard = now;
    if (parsed->type == server_message::kind::keepalive) {
      const auto& k = parsed->alive;
      progress.server_lsn = std::max(progress.server_lsn, k.wal_end);
      builder->note_time({pg_time_to_unix_ms(k.send_time), k.wal_end});
      if (k.reply_requested) reply_now = true;
      return {};
    }
    const auto& w = parsed->data;
    if (w.data_start != expected) {
      return unavailable("the server sent WAL from " + format_lsn(w.data_start) + ", expected " +
                         format_lsn(expected));
    }
    progress.server_lsn = std::max(progress.server_lsn, w.wal_end);
    expected = w.data_start + w.payload.size();
    progress.received_lsn = expected;
    if (!w.payload.empty()) {
      ship_all(builder->append(timeline, w.data_start, w.payload,
                               {pg_time_to_unix_ms(w.send_time), w.wal_end}, now));
    }
    return {};
  }

  net::awaitable<stage_error> prepare(std::optional<lsn>& start);
  net::awaitable<stage_error> stream();
  net::awaitable<stage_error> finish_cleanly();
  net::awaitable<stage_error> copy_ended();
  net::awaitable<void> wait(bool for_server, clock::time_point until);
};

// IDENTIFY_SYSTEM, the settings that time the loop, the slot, the receiver's state: where to
// start. nullopt start with no error: nothing to do (stopped).
net::awaitable<stage_error> stream_session::impl::prepare(std::optional<lsn>& start) {
  pg_async_options options;
  options.replication = true;
  if (auto e = co_await link.connect(config.login, options)) co_return unavailable(e.message);
  std::vector<pg_table> r;
  std::string why;
  if (auto e = co_await query("IDENTIFY_SYSTEM", r)) co_return e;
  const auto id = r.empty() ? std::nullopt : parse_identify_system(r[0], why);
  if (!id) co_return unavailable(why);
  timeline = id->timeline;
  progress.system_id = id->system_id;
  progress.timeline = id->timeline;
  progress.server_lsn = std::max(progress.server_lsn, id->xlog_pos);

  if (auto e = co_await query("SHOW wal_segment_size", r)) co_return e;
  const auto size_text = r.empty() ? std::nullopt : single_value(r[0]);
  const auto size = size_text ? parse_size_setting(*size_text) : std::nullopt;
  if (!size || !pgship::wal::valid_segment_size(*size))
    co_return unavailable("wal_segment_size is \"" + size_text.value_or("") + "\"");
  segment_size = *size;

  if (auto e = co_await query(read_slot_command(config.slot), r)) co_return e;
  auto slot = r.empty() ? std::nullopt : parse_read_replication_slot(r[0], why);
  if (!slot) co_return unavailable(why);
  if (!slot->exists) {
    if (auto e = co_await query(create_slot_command(config.slot), r);
        e && link.last_sqlstate() != "42710") {  // 42710: created meanwhile, fine
      co_return e;
    }
    log::write(spdlog::level::info,
               "created the physical replication slot \"" + config.slot + "\" (RESERVE_WAL)",
               {{"slot", config.slot}});
    if (auto e = co_await query(read_slot_command(config.slot), r)) co_return e;
    slot = r.empty() ? std::nullopt : parse_read_replication_slot(r[0], why);
    if (!slot || !slot->exists)
      co_return unavailable("the new slot \"" + config.slot + "\" is gone");
  }
  if (slot->type != "physical") {
    co_return fail(errc::config_invalid,
                   "WAL_SLOT=\"" + config.slot + "\" names a " + slot->type +
                       " slot; the stream needs a physical one (choose another name)");
  }
  if (!slot->restart_lsn) {
    co_return fail(errc::wal_gap, "the slot \"" + config.slot +
                                      "\" has lost its WAL (max_slot_wal_keep_size): drop it "
                                      "(pgship-agent wal drop-slot) to start again from now");
  }
  slot_restart = *slot->restart_lsn;

  wire::wal::archive_state state;
  if (auto e = co_await sink.open(id->system_id, state)) co_return e;
  if (state.segment_size != 0 && state.segment_size != segment_size) {
    co_return fail(errc::wal_conflict,
                   "the receiver holds WAL of system " + id->system_id + " with segments of " +
                       std::to_string(state.segment_size) + " bytes; the server's are " +
                       std::to_string(segment_size));
  }
  const auto end = state.durable_end();
  if (end && end->timeline != timeline) {
    co_return unavailable("the receiver's newest WAL is on timeline " +
                          std::to_string(end->timeline) + ", the server is on timeline " +
                          std::to_string(timeline) +
                          ": following a timeline switch is not supported yet");
  }
  if (end && end->at > id->xlog_pos) {
    co_return fail(errc::wal_conflict, "the receiver holds WAL of system " + id->system_id +
                                           " up to " + format_lsn(end->at) +
                                           ", beyond the server's " + format_lsn(id->xlog_pos) +
                                           ": another history under the same system identifier");
  }
  const auto tail = sink.tail();
  const lsn segment_start = slot_restart - slot_restart % segment_size;
  if (tail.timeline == timeline && tail.end >= slot_restart && tail.end > 0 &&
      (!end || tail.end >= end->at)) {
    start = tail.end;  // units of an earlier session are still queued: go on after them
    if (end) known_durable = end->at;
  } else if (end && end->at >= slot_restart) {
    start = end->at;
    known_durable = end->at;
  } else {
    start = segment_start;
    if (end) {
      log::write(spdlog::level::err,
                 "the slot no longer holds the WAL after the receiver's durable end: the "
                 "archive misses [" +
                     format_lsn(end->at) + ", " + format_lsn(segment_start) + ") of timeline " +
                     std::to_string(timeline) + "; take a base backup",
                 {{"from", format_lsn(end->at)}, {"to", format_lsn(segment_start)}});
    }
  }

  if (auto e = co_await query("SHOW wal_sender_timeout", r)) co_return e;
  const auto timeout_text = r.empty() ? std::nullopt : single_value(r[0]);
  sender_timeout = timeout_text ? parse_time_setting(*timeout_text) : std::nullopt;
  if (!sender_timeout)
    co_return unavailable("wal_sender_timeout is \"" + timeout_text.value_or("") + "\"");
  co_return stage_error{};
}

// Sleeps until `until`, a wake() or (when `for_server`) the server's next bytes.
net::awaitable<void> stream_session::impl::wait(bool for_server, clock::time_point until) {
  if (woken) co_return;
  wake_timer.expires_at(until);
  if (!for_server) {
    co_await wake_timer.async_wait(net::as_tuple(net::use_awaitable));
    co_return;
  }
  stage_error read_error;
  auto read_op = net::co_spawn(ex, readable(&link, &read_error), net::deferred);
  auto [order, read_ex, timer_ec] =
      co_await net::experimental::make_parallel_group(std::move(read_op),
                                                      wake_timer.async_wait(net::deferred))
          .async_wait(net::experimental::wait_for_one(), net::use_awaitable);
  (void)order;
  (void)timer_ec;
  if (read_ex) std::rethrow_exception(read_ex);
  // A failed wait shows again as a failed read, with libpq's words.
}

// The server ended the COPY: a timeline's end (slice 1 stops there) or its shutdown.
net::awaitable<stage_error> stream_session::impl::copy_ended() {
  streaming = progress.streaming = false;
  seal_open();
  std::vector<pg_table> results;
  auto e = co_await link.end_copy(results);
  if (e) co_return unavailable("the server ended the stream: " + e.message);
  for (const auto& t : results) {
    if (const auto next = parse_timeline_end(t)) {
      log::write(spdlog::level::err,
                 "timeline " + std::to_string(timeline) + " ended; the server continues on " +
                     "timeline " + std::to_string(next->next_timeline) + " from " +
                     format_lsn(next->next_start) +
                     ": following a timeline switch is not supported yet",
                 {{"timeline", std::to_string(timeline)}});
      co_return unavailable("timeline " + std::to_string(timeline) + " ended");
    }
  }
  co_return unavailable("the server ended the stream (shut down?)");
}

// The clean stop: nothing received is dropped that the queue can still ship in time, and
// the server hears the last durable position before the COPY ends.
net::awaitable<stage_error> stream_session::impl::finish_cleanly() {
  seal_open();
  const auto deadline = clock::now() + stop_ship_grace;
  const auto tail = sink.tail();
  while (clock::now() < deadline && !sink.queue().failed() &&
         sink.queue().durable().end < tail.end && tail.end > 0) {
    woken = false;
    co_await wait(false, deadline);
  }
  auto e = co_await send_status(false);
  streaming = progress.streaming = false;
  std::vector<pg_table> results;
  if (!e) e = co_await link.end_copy(results);
  link.close();
  if (e) {
    log::write(spdlog::level::warn, "the WAL stream did not end cleanly: " + e.message, {});
  }
  co_return stage_error{};
}

net::awaitable<stage_error> stream_session::impl::stream() {
  const auto status_interval =
      *sender_timeout > std::chrono::milliseconds(0)
          ? std::min<std::chrono::milliseconds>(longest_status_interval, *sender_timeout / 2)
          : std::chrono::milliseconds(longest_status_interval);
  const auto dead_after = 3 * std::max(config.ack_interval, status_interval);
  progress.last_message = heard = clock::now();
  std::string message;
  for (;;) {
    woken = false;
    if (stopping) co_return co_await finish_cleanly();
    auto now = clock::now();
    // Drain while the queue has room; past its budget the server waits for us (TCP), and
    // the WAL stays under the slot.
    bool drained = false;
    while (!sink.queue().over_budget()) {
      stage_error error;
      const auto state = link.try_read_copy(message, error);
      if (state == pg_async::copy_read::would_block) {
        drained = true;
        break;
      }
      if (state == pg_async::copy_read::failed) {
        seal_open();
        co_return unavailable("the WAL stream failed: " + error.message);
      }
      if (state == pg_async::copy_read::ended) co_return co_await copy_ended();
      now = clock::now();
      if (auto e = handle(message, now)) {
        seal_open();
        co_return e;
      }
    }
    if (!drained) heard = now;
    if (auto u = builder->seal_if_due(now)) sink.ship(std::move(*u));
    note_open_unit();
    if (sink.queue().failed()) {
      seal_open();
      co_return sink.queue().failure();
    }
    const bool status_due = !last_status || now - *last_status >= status_interval;
    // A walsender that hears from us sends nothing while it has no WAL: after an interval of
    // silence an update asks for an answer, the proof that the server is still there.
    const bool probe = now - std::max(heard, last_probe) >= status_interval;
    if (reply_now || status_due || probe || flush_position() > reported_flush) {
      reply_now = false;
      if (auto e = co_await send_status(probe)) {
        seal_open();
        co_return e;
      }
      if (probe) last_probe = now;
    }
    if (now - heard > dead_after) {
      seal_open();
      co_return unavailable(
          "no message from the server for " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - heard).count()) +
          " s");
    }
    auto until = std::min({*last_status + status_interval, heard + dead_after,
                           std::max(heard, last_probe) + status_interval});
    if (const auto due = builder->deadline()) until = std::min(until, *due);
    co_await wait(drained, until);
  }
}

stream_session::stream_session(net::any_io_executor ex, const stream_config& config,
                               unit_sink& sink, session_progress& progress)
    : impl_(std::make_unique<impl>(std::move(ex), config, sink, progress)) {}

stream_session::~stream_session() = default;

net::awaitable<stage_error> stream_session::run() {
  auto& s = *impl_;
  std::optional<lsn> start;
  auto e = co_await s.prepare(start);
  if (e || !start) {
    s.link.close();
    co_return e;
  }
  if (s.stopping) co_return stage_error{};
  std::vector<pg_table> r;
  const auto command = start_replication_command(s.config.slot, *start, s.timeline);
  e = co_await s.link.exec(command, r);
  if (e || r.empty() || r.back().status != pg_table::state::copy_both) {
    s.link.close();
    co_return unavailable("START_REPLICATION at " + format_lsn(*start) +
                          " failed: " + (e ? e.message : std::string("no COPY BOTH")));
  }
  s.expected = *start;
  s.progress.received_lsn = *start;
  s.builder =
      std::make_unique<unit_builder>(s.config.format, s.config.codec, s.segment_size, s.max_wait());
  s.streaming = s.progress.streaming = true;
  log::write(spdlog::level::info,
             "streaming WAL of system " + s.progress.system_id + " from " + format_lsn(*start) +
                 " on timeline " + std::to_string(s.timeline) + " (slot \"" + s.config.slot + "\")",
             {{"system", s.progress.system_id}, {"start", format_lsn(*start)}});
  e = co_await s.stream();
  s.streaming = s.progress.streaming = false;
  s.progress.open_since.reset();
  s.link.close();
  co_return e;
}

void stream_session::stop() {
  impl_->stopping = true;
  wake();
}

void stream_session::wake() {
  impl_->woken = true;
  impl_->wake_timer.cancel();
}

bool stream_session::streaming() const {
  return impl_->streaming;
}

}  // namespace pgship::agent::wal
