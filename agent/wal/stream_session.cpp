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
// Over the ship budget this long, the session hangs up (the server must not wait on us).
constexpr auto longest_full = 10s;

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
  timeline_history history;  // the server's, for the timeline being streamed
  lsn slot_restart = 0;      // flush is reported only from here on (never behind the slot)
  lsn known_durable = 0;     // the receiver's durable end this session started from, if it did
  lsn expected = 0;          // where the next XLogData must start
  lsn reported_flush = 0;
  bool reply_now = false;
  std::optional<clock::time_point> last_status;
  std::optional<std::chrono::milliseconds> sender_timeout;
  // The last message, or the last time we chose not to read (over budget): silence counts
  // only while we listen.
  clock::time_point heard;
  clock::time_point last_probe;
  // Since when the queue has been too full to read the server.
  std::optional<clock::time_point> full_since;

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
    // Units are acknowledged in order: what ends an acknowledged unit of this timeline, or
    // of one it descends from (units before the switch), is durable with all before it.
    const auto durable = sink.queue().durable();
    lsn d = known_durable;
    if (durable.timeline != 0 && history.knows(durable.timeline)) d = std::max(d, durable.end);
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
  net::awaitable<stage_error> read_slot(std::optional<slot_state>& out);
  net::awaitable<stage_error> create_slot();
  net::awaitable<stage_error> fetch_history(timeline_id t, std::string& content);
  void queue_history(timeline_id t, const std::string& content);
  net::awaitable<stage_error> start_streaming(timeline_id t, lsn from);
  void note_removed(lsn from, const std::string& message);
  net::awaitable<stage_error> stream();
  net::awaitable<stage_error> finish_cleanly();
  net::awaitable<stage_error> copy_ended(bool& followed);
  net::awaitable<void> wait(bool for_server, clock::time_point until);
};

// IDENTIFY_SYSTEM, the settings that time the loop, the slot, the receiver's state, the
// histories: where to start. nullopt start with no error: nothing to do (stopped).
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

  std::optional<slot_state> slot;
  if (auto e = co_await read_slot(slot)) co_return e;
  if (!slot->exists) {
    if (auto e = co_await create_slot()) co_return e;
    if (auto e = co_await read_slot(slot)) co_return e;
    if (!slot->exists) co_return unavailable("the new slot \"" + config.slot + "\" is gone");
  }
  if (slot->type != "physical") {
    co_return fail(errc::config_invalid,
                   "WAL_SLOT=\"" + config.slot + "\" names a " + slot->type +
                       " slot; the stream needs a physical one (choose another name)");
  }
  // The receiver's state before anything changes on the server: with the receiver away,
  // a lost slot stays as it is (and is recorded as such once it is back).
  wire::wal::archive_state state;
  if (auto e = co_await sink.open(id->system_id, state)) co_return e;
  if (state.segment_size != 0 && state.segment_size != segment_size) {
    co_return fail(errc::wal_conflict,
                   "the receiver holds WAL of system " + id->system_id + " with segments of " +
                       std::to_string(state.segment_size) + " bytes; the server's are " +
                       std::to_string(segment_size));
  }
  const bool slot_lost = !slot->restart_lsn;
  if (slot_lost) {
    // Past max_slot_wal_keep_size the server removed WAL the slot was keeping for us: the
    // archive has a gap whatever we do. A new slot keeps WAL from now on.
    log::write(spdlog::level::err,
               "the slot \"" + config.slot +
                   "\" has lost its WAL (max_slot_wal_keep_size): dropping it and creating it "
                   "again; the archive will have a gap",
               {{"slot", config.slot}});
    if (auto e = co_await query(drop_slot_command(config.slot), r)) co_return e;
    if (auto e = co_await create_slot()) co_return e;
    if (auto e = co_await read_slot(slot)) co_return e;
    if (!slot->exists || !slot->restart_lsn)
      co_return unavailable("the slot \"" + config.slot + "\" reserves no WAL after creating it");
  }
  slot_restart = *slot->restart_lsn;

  if (timeline > 1) {
    std::string content;
    if (auto e = co_await fetch_history(timeline, content)) co_return e;
    auto parsed = parse_timeline_history(timeline, content, why);
    if (!parsed) co_return unavailable(why);
    history = std::move(*parsed);
  } else {
    history = timeline_history{};
  }

  // Where the archive ends: what the receiver holds, or what an earlier session queued.
  const auto end = state.durable_end();
  const auto tail = sink.tail();
  start_inputs in;
  in.server = history;
  in.server_end = id->xlog_pos;
  in.segment_size = segment_size;
  in.slot_restart = slot_restart;
  if (end) in.archived = resume_point{end->timeline, end->at};
  if (tail.end > 0 && (!end || tail.timeline > end->timeline ||
                       (tail.timeline == end->timeline && tail.end >= end->at))) {
    in.archived = resume_point{tail.timeline, tail.end};
  }
  const auto decision = choose_start(in);
  if (!decision.conflict.empty()) {
    co_return fail(errc::wal_conflict, "system " + id->system_id + ": " + decision.conflict);
  }
  if (!decision.branched.empty()) {
    log::write(spdlog::level::warn,
               "system " + id->system_id + ": " + decision.branched +
                   " (the server was recovered to an earlier moment); the stream goes on along "
                   "the server's timeline from there, the old timeline's later WAL stays",
               {{"system", id->system_id}});
  }
  // Every history the archive lacks goes first, oldest first: the ordered queue makes the
  // receiver hold it before any WAL of its timeline.
  for (timeline_id t = 2; t <= timeline; ++t) {
    if (sink.holds_history(t)) continue;
    std::string content;
    if (auto e = co_await fetch_history(t, content)) {
      if (t > decision.timeline) co_return e;
      log::write(spdlog::level::warn,
                 "the history of timeline " + std::to_string(t) +
                     " is not on the server; the archive goes on without it: " + e.message,
                 {{"timeline", std::to_string(t)}});
      continue;
    }
    queue_history(t, content);
  }
  if (decision.gap) {
    if (auto e = co_await sink.record_gap(*decision.gap, slot_lost ? "slot_lost" : "wal_removed"))
      co_return e;
  }
  // Past a branch, nothing of the server's timeline is durable yet beyond where it starts.
  if (end) known_durable = decision.branched.empty() ? end->at : decision.start;
  timeline = decision.timeline;
  start = decision.start;

  if (auto e = co_await query("SHOW wal_sender_timeout", r)) co_return e;
  const auto timeout_text = r.empty() ? std::nullopt : single_value(r[0]);
  sender_timeout = timeout_text ? parse_time_setting(*timeout_text) : std::nullopt;
  if (!sender_timeout)
    co_return unavailable("wal_sender_timeout is \"" + timeout_text.value_or("") + "\"");
  co_return stage_error{};
}

net::awaitable<stage_error> stream_session::impl::read_slot(std::optional<slot_state>& out) {
  std::vector<pg_table> r;
  std::string why;
  if (auto e = co_await query(read_slot_command(config.slot), r)) co_return e;
  out = r.empty() ? std::nullopt : parse_read_replication_slot(r[0], why);
  if (!out) co_return unavailable(why);
  co_return stage_error{};
}

net::awaitable<stage_error> stream_session::impl::create_slot() {
  std::vector<pg_table> r;
  if (auto e = co_await query(create_slot_command(config.slot), r);
      e && link.last_sqlstate() != "42710") {  // 42710: created meanwhile, fine
    co_return e;
  }
  log::write(spdlog::level::info,
             "created the physical replication slot \"" + config.slot + "\" (RESERVE_WAL)",
             {{"slot", config.slot}});
  co_return stage_error{};
}

// TIMELINE_HISTORY: the history file of `t` as the server keeps it.
net::awaitable<stage_error> stream_session::impl::fetch_history(timeline_id t,
                                                                std::string& content) {
  std::vector<pg_table> r;
  if (auto e = co_await query("TIMELINE_HISTORY " + std::to_string(t), r)) co_return e;
  const auto file = r.empty() ? std::nullopt : parse_timeline_history_result(r[0]);
  if (!file || file->first != pgship::wal::history_name(t)) {
    co_return unavailable("TIMELINE_HISTORY " + std::to_string(t) +
                          " did not answer that timeline's history file");
  }
  content = std::move(file->second);
  co_return stage_error{};
}

void stream_session::impl::queue_history(timeline_id t, const std::string& content) {
  auto unit =
      seal_history_file(t, content, config.format, config.codec, segment_size, clock::now());
  // The receiver cannot read the file (ciphertext): it learns the switch from a header.
  std::string why;
  if (const auto parsed = parse_timeline_history(t, content, why);
      parsed && !parsed->ancestors.empty()) {
    const auto& last = parsed->ancestors.back();
    unit.timeline_switch = wire::wal::switch_point{last.timeline, last.ends_at};
  }
  sink.ship(std::move(unit));
  log::write(spdlog::level::info,
             "queued the history of timeline " + std::to_string(t) + " before its WAL",
             {{"timeline", std::to_string(t)}});
}

// SQLSTATE 58P01, "requested WAL segment ... has already been removed": the server dropped
// WAL the archive needs (the slot was invalidated meanwhile). The next session reads the slot
// lost, records the gap and starts again where the server's WAL begins.
void stream_session::impl::note_removed(lsn from, const std::string& message) {
  log::write(spdlog::level::err,
             "the server no longer has WAL from " + format_lsn(from) + " of timeline " +
                 std::to_string(timeline) + ": " + message,
             {{"start", format_lsn(from)}});
}

// START_REPLICATION at `from` on `t`: the COPY the loop reads.
net::awaitable<stage_error> stream_session::impl::start_streaming(timeline_id t, lsn from) {
  std::vector<pg_table> r;
  const auto command = start_replication_command(config.slot, from, t);
  auto e = co_await link.exec(command, r);
  if (e || r.empty() || r.back().status != pg_table::state::copy_both) {
    if (e && link.last_sqlstate() == "58P01") note_removed(from, e.message);
    co_return unavailable("START_REPLICATION at " + format_lsn(from) + " on timeline " +
                          std::to_string(t) +
                          " failed: " + (e ? e.message : std::string("no COPY BOTH")));
  }
  timeline = t;
  progress.timeline = t;
  expected = from;
  progress.received_lsn = from;
  streaming = progress.streaming = true;
  log::write(spdlog::level::info,
             "streaming WAL of system " + progress.system_id + " from " + format_lsn(from) +
                 " on timeline " + std::to_string(t) + " (slot \"" + config.slot + "\")",
             {{"system", progress.system_id}, {"start", format_lsn(from)}});
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

// The server ended the COPY: a timeline's end (pg_receivewal's HandleEndOfCopyStream: the
// result rows name the next timeline and where it begins) or its shutdown. `followed`: the
// session goes on, streaming the next timeline.
net::awaitable<stage_error> stream_session::impl::copy_ended(bool& followed) {
  followed = false;
  streaming = progress.streaming = false;
  seal_open();
  std::vector<pg_table> results;
  auto e = co_await link.end_copy(results);
  if (e) co_return unavailable("the server ended the stream: " + e.message);
  std::optional<timeline_end> next;
  for (const auto& t : results)
    if (!next) next = parse_timeline_end(t);
  if (!next) co_return unavailable("the server ended the stream (shut down?)");
  const auto ended = timeline;
  if (next->next_timeline <= ended || next->next_start > expected) {
    co_return unavailable("the server ended timeline " + std::to_string(ended) + " at " +
                          format_lsn(expected) + " and named timeline " +
                          std::to_string(next->next_timeline) + " from " +
                          format_lsn(next->next_start) + " next");
  }
  log::write(spdlog::level::info,
             "timeline " + std::to_string(ended) + " ended at " + format_lsn(next->next_start) +
                 "; following timeline " + std::to_string(next->next_timeline),
             {{"timeline", std::to_string(next->next_timeline)}});
  std::string content;
  if (auto fe = co_await fetch_history(next->next_timeline, content)) co_return fe;
  std::string why;
  auto parsed = parse_timeline_history(next->next_timeline, content, why);
  if (!parsed) co_return unavailable(why);
  // What was acknowledged on the old timeline stays durable: flush goes on from there.
  known_durable = std::max(known_durable, flush_position());
  history = std::move(*parsed);
  if (!sink.holds_history(next->next_timeline)) queue_history(next->next_timeline, content);
  const lsn from = next->next_start - next->next_start % segment_size;
  if (auto se = co_await start_streaming(next->next_timeline, from)) co_return se;
  followed = true;
  co_return stage_error{};
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
        if (error.message.find("has already been removed") != std::string::npos)
          note_removed(expected, error.message);
        seal_open();
        co_return unavailable("the WAL stream failed: " + error.message);
      }
      if (state == pg_async::copy_read::ended) {
        bool followed = false;
        auto e = co_await copy_ended(followed);
        if (!followed) co_return e;
        continue;
      }
      now = clock::now();
      if (auto e = handle(message, now)) {
        seal_open();
        co_return e;
      }
    }
    if (!drained) {
      heard = now;
      if (!full_since) full_since = now;
    } else {
      full_since.reset();
    }
    if (full_since && now - *full_since >= longest_full) {
      // A walsender blocked writing to us cannot even die: the checkpointer that invalidates
      // a slot past max_slot_wal_keep_size waits for it. Hang up until the queue has room.
      seal_open();
      co_return unavailable(
          "the receiver has not taken the queued WAL for " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(longest_full).count()) +
          " s: hanging up until the queue has room (the slot keeps the WAL)");
    }
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
    if (full_since) until = std::min(until, *full_since + longest_full);
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
  s.builder =
      std::make_unique<unit_builder>(s.config.format, s.config.codec, s.segment_size, s.max_wait());
  e = co_await s.start_streaming(s.timeline, *start);
  if (!e) e = co_await s.stream();
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
