#include <algorithm>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <pgship/common/events/webhook_sender.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/http/post_client.hpp>
#include <pgship/common/log.hpp>

namespace pgship::events {

namespace net = boost::asio;
namespace stdfs = std::filesystem;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

struct queued {
  event e;
  std::optional<stdfs::path> spooled;
};

// A redirect is not followed (it could carry the body, and the signature, elsewhere): it is a
// refusal like a 4xx.
bool refused_for_good(unsigned status) {
  return status >= 300 && status < 500 && status != 408 && status != 429;
}

constexpr auto spool_rescan = std::chrono::seconds(60);

}  // namespace

struct webhook_sender::state {
  state(net::any_io_executor ex, webhook_settings s, std::optional<stdfs::path> dir, counter c,
        retry_plan p)
      : executor(ex),
        settings(std::move(s)),
        spool_dir(std::move(dir)),
        count(std::move(c)),
        plan(p),
        wake(ex),
        drained(ex) {}

  void note(std::string_view result) {
    if (count) count(result);
  }

  void forget(const queued& q) {
    if (!q.spooled) return;
    std::error_code ec;
    stdfs::remove(*q.spooled, ec);
  }

  // One process at a time delivers what the spool holds (the daemon, or the first one-shot
  // command beside none): two would send each event twice, out of order. The others send
  // their own events and leave what they could not deliver to the holder.
  void take_spool() {
    if (!spool_dir) return;
    std::error_code ec;
    stdfs::create_directories(*spool_dir, ec);
    lock_fd = ::open((*spool_dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    owner = lock_fd >= 0 && ::flock(lock_fd, LOCK_EX | LOCK_NB) == 0;
    if (owner) load_spool();
  }

  bool queued_already(const std::string& id) const {
    return std::any_of(queue.begin(), queue.end(), [&](const queued& q) { return q.e.id == id; });
  }

  void load_spool() {
    std::error_code ec;
    if (!spool_dir || !stdfs::is_directory(*spool_dir, ec)) return;
    std::vector<stdfs::path> files;
    for (const auto& entry : stdfs::directory_iterator(*spool_dir, ec))
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    std::sort(files.begin(), files.end());  // ids start with the time: oldest first
    for (const auto& f : files) {
      std::ifstream in(f);
      std::stringstream text;
      text << in.rdbuf();
      auto e = from_json(text.str());
      if (!e || !wanted(settings.events, settings.format, e->name)) {
        stdfs::remove(f, ec);
        continue;
      }
      if (queued_already(e->id)) continue;
      queue.push_back({std::move(*e), f});
    }
    if (!queue.empty()) {
      log::write(spdlog::level::info,
                 "webhook: " + std::to_string(queue.size()) +
                     " events an earlier run could not deliver are sent first",
                 {});
    }
  }

  std::chrono::milliseconds backoff(int attempts) {
    auto delay = plan.first;
    for (int i = 1; i < attempts && delay < plan.longest; ++i)
      delay *= 2;
    delay = std::min(delay, plan.longest);
    // ±25%: agents that lost the same service together do not come back in step.
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    return std::chrono::milliseconds(static_cast<long long>(delay.count() * jitter(random)));
  }

  net::awaitable<void> deliver();

  net::any_io_executor executor;
  webhook_settings settings;
  std::optional<stdfs::path> spool_dir;
  counter count;
  retry_plan plan;
  std::deque<queued> queue;
  net::steady_timer wake;     // the worker waits on it for events and between attempts
  net::steady_timer drained;  // drain() waits on it; cancelled when the queue empties
  bool draining = false;
  bool stopped = false;
  int lock_fd = -1;
  bool owner = false;  // holds the spool's lock: delivers what others left there
  std::mt19937 random{std::random_device{}()};
};

net::awaitable<void> webhook_sender::state::deliver() {
  int attempts = 0;
  while (!stopped) {
    if (queue.empty()) {
      if (draining) drained.cancel();
      // The holder looks at the spool again now and then, for what other processes left.
      if (owner) {
        wake.expires_after(spool_rescan);
      } else {
        wake.expires_at(net::steady_timer::time_point::max());
      }
      const auto [ec] = co_await wake.async_wait(use_tuple);
      if (!ec && owner && queue.empty()) load_spool();
      continue;
    }
    auto& front = queue.front();
    if (std::chrono::system_clock::now() - front.e.time > plan.give_up_after) {
      log::write(spdlog::level::warn, "webhook: " + front.e.name + " dropped undelivered",
                 {{"event_id", front.e.id}, {"reason", "older than a day"}});
      note("dropped");
      forget(front);
      queue.pop_front();
      attempts = 0;
      continue;
    }
    const auto rendered = render(front.e, settings.format, settings.secret);
    http_client::post_request request;
    request.url = settings.url;
    while (!request.url.empty() && request.url.back() == '/' && !rendered.path_suffix.empty())
      request.url.pop_back();
    request.url += rendered.path_suffix;
    request.content_type = rendered.content_type;
    request.headers = rendered.headers;
    request.headers.emplace_back("X-Pgship-Event", front.e.name);
    request.body = rendered.body;
    const auto result = co_await http_client::post(executor, std::move(request));
    if (stopped) co_return;
    auto& sent = queue.front();  // still the same: only this coroutine pops
    ++attempts;
    if (result.delivered() || refused_for_good(result.status)) {
      if (result.delivered()) {
        note("delivered");
      } else {
        log::write(spdlog::level::warn,
                   "webhook: " + sent.e.name + " refused (HTTP " + std::to_string(result.status) +
                       "); not sent again",
                   {{"event_id", sent.e.id}, {"answer", result.body.substr(0, 200)}});
        note("dropped");
      }
      forget(sent);
      queue.pop_front();
      attempts = 0;
      continue;
    }
    note("retried");
    const auto delay = backoff(attempts);
    log::write(spdlog::level::warn,
               "webhook: " + sent.e.name + " not delivered (" +
                   (result.status != 0 ? "HTTP " + std::to_string(result.status) : result.error) +
                   "); trying again in " + std::to_string(delay.count()) + " ms",
               {{"event_id", sent.e.id}, {"attempt", attempts}});
    wake.expires_after(delay);
    co_await wake.async_wait(use_tuple);
  }
}

webhook_sender::webhook_sender(net::any_io_executor ex, webhook_settings settings,
                               std::optional<stdfs::path> spool_dir, counter count, retry_plan plan)
    : state_(std::make_shared<state>(ex, std::move(settings), std::move(spool_dir),
                                     std::move(count), plan)) {
  state_->take_spool();
  net::co_spawn(
      ex, [s = state_]() -> net::awaitable<void> { co_await s->deliver(); },
      [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& failure) {
          log::write(spdlog::level::err, std::string("webhook delivery stopped: ") + failure.what(),
                     {});
        }
      });
}

webhook_sender::~webhook_sender() {
  stop();
  if (state_->lock_fd >= 0) ::close(state_->lock_fd);
}

void webhook_sender::publish(event e) {
  auto& s = *state_;
  if (s.stopped || !wanted(s.settings.events, s.settings.format, e.name)) return;
  queued q{std::move(e), std::nullopt};
  if (s.spool_dir) {
    std::error_code ec;
    stdfs::create_directories(*s.spool_dir, ec);
    const auto path = *s.spool_dir / (q.e.id + ".json");
    if (!ec) ec = fs::write_file_atomically(path, to_json_text(q.e), 0600);
    if (ec) {
      log::write(spdlog::level::warn,
                 "webhook: cannot keep " + q.e.name + " in " + s.spool_dir->string() + ": " +
                     ec.message() + "; it is sent from memory only",
                 {{"event_id", q.e.id}});
    } else {
      q.spooled = path;
    }
  }
  const bool was_idle = s.queue.empty();
  s.queue.push_back(std::move(q));
  if (was_idle) s.wake.cancel();
}

net::awaitable<std::size_t> webhook_sender::drain(std::chrono::milliseconds limit) {
  auto s = state_;
  if (!s->queue.empty() && !s->stopped) {
    s->draining = true;
    s->drained.expires_after(limit);
    co_await s->drained.async_wait(use_tuple);
    s->draining = false;
  }
  const auto left = s->queue.size();
  // Without a spool (the receiver) what is left at shutdown is lost, and counted so.
  for (std::size_t i = 0; i < left; ++i)
    s->note(s->spool_dir ? "kept" : "dropped");
  co_return left;
}

void webhook_sender::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  state_->wake.cancel();
  state_->drained.cancel();
}

std::size_t webhook_sender::pending() const {
  return state_->queue.size();
}

}  // namespace pgship::events
