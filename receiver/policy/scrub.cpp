#include "policy/scrub.hpp"
#include <algorithm>
#include <fstream>
#include <vector>

#include <pgship/common/fs.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/sha256.hpp>
#include <pgship/common/time_text.hpp>

namespace pgship::receiver {
namespace {

namespace stdfs = std::filesystem;
using sys_clock = std::chrono::system_clock;

// When the last scrub completed survives restarts, so a receiver restarted daily still
// scrubs once per SCRUB_INTERVAL rather than never (or at every start).
stdfs::path state_file(const receiver_context& ctx) {
  return ctx.cfg.storage_dir / ".scrub-last-completed";
}

// The file holds "<unix seconds> completed", or "<unix seconds> first-start" for a receiver
// that has not completed one yet: that baseline is written once, so restarts do not push the
// first scrub ever further away.
struct scrub_record {
  sys_clock::time_point at;
  bool completed = false;
};

scrub_record read_last_completed(const receiver_context& ctx) {
  std::ifstream in(state_file(ctx));
  long long seconds = 0;
  std::string kind;
  if (in >> seconds >> kind && seconds > 0) {
    return {sys_clock::time_point(std::chrono::seconds(seconds)), kind == "completed"};
  }
  const auto now = sys_clock::now();
  const auto stamp = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  fs::write_file_atomically(state_file(ctx), std::to_string(stamp.count()) + " first-start\n");
  return {now, false};
}

constexpr std::size_t block_size = 1 << 20;

}  // namespace

scrubber::scrubber(std::shared_ptr<receiver_context> ctx) : ctx_(std::move(ctx)) {
  const auto last = read_last_completed(*ctx_);
  last_completed_ = last.at;
  if (last.completed) ctx_->metrics.scrub_completed(last.at);
}

scrubber::~scrubber() {
  stop_ = true;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool scrubber::due(sys_clock::time_point now) const {
  const auto& cfg = ctx_->cfg;
  if (cfg.scrub_interval.count() <= 0 || cfg.scrub_rate == 0) return false;
  return now - last_completed_.load() >= cfg.scrub_interval;
}

bool scrubber::start(const std::string& trigger) {
  std::lock_guard lock(mutex_);
  if (stopping_ || running_.exchange(true)) return false;
  if (thread_.joinable()) thread_.join();  // the previous one has finished
  try {
    thread_ = std::thread([this, trigger] {
      try {
        scrub_all(trigger);
      } catch (const std::exception& e) {
        log::write(spdlog::level::err, std::string("scrub failed: ") + e.what(), {});
      }
      running_ = false;
    });
  } catch (const std::system_error&) {
    running_ = false;
    return false;
  }
  return true;
}

bool scrubber::pause(std::chrono::steady_clock::duration d) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

void scrubber::scrub_all(const std::string& trigger) {
  const auto rate = ctx_->cfg.scrub_rate;  // 0: as fast as the disk goes (a manual scrub)
  log::write(spdlog::level::info, "scrub started", {{"trigger", trigger}});
  std::uint64_t bytes = 0;
  int checked = 0;
  int corrupt = 0;
  const auto started = std::chrono::steady_clock::now();
  std::vector<char> buffer(block_size);
  auto& store = *ctx_->store;
  store.refresh();
  for (const auto& [client, usage] : store.usage()) {
    const auto records = store.list(client, std::nullopt);
    if (!records) {
      log::write(spdlog::level::warn, "scrub: cannot list: " + records.error().message(),
                 {{"client", client}});
      continue;
    }
    for (const auto& record : *records) {
      auto opened = store.open_range(record, 0, record.size);
      if (!opened) continue;  // removed meanwhile
      const auto reader = std::move(*opened);
      sha256 hash;
      std::uint64_t file_bytes = 0;
      std::error_code read_ec;
      for (;;) {
        if (stop_) {
          log::write(spdlog::level::info, "scrub stopped", {{"bytes", bytes}});
          return;
        }
        std::size_t n = 0;
        if ((read_ec = reader->read(buffer, n)) || n == 0) break;
        hash.update(buffer.data(), n);
        file_bytes += n;
        bytes += n;
        ctx_->metrics.scrub_bytes(n);
        // At most SCRUB_RATE bytes/s on average since this scrub began.
        if (rate > 0) {
          const auto should_take =
              std::chrono::duration<double>(static_cast<double>(bytes) / static_cast<double>(rate));
          const auto ahead =
              started +
              std::chrono::duration_cast<std::chrono::steady_clock::duration>(should_take) -
              std::chrono::steady_clock::now();
          if (ahead.count() > 0 && !pause(ahead)) {
            log::write(spdlog::level::info, "scrub stopped", {{"bytes", bytes}});
            return;
          }
        }
      }
      const log::context lg{{"client", record.client}, {"backup", record.id}};
      ++checked;
      // An unreadable or short backup (EIO: a bad sector) cannot be restored either: corrupt.
      const std::string digest =
          read_ec ? "unreadable (" + read_ec.message() + ")" : to_hex(hash.finish());
      if (!read_ec && digest == record.sha256 && file_bytes == record.size) continue;
      // Over the network a failed read is the network's, not the bytes': tried again next time.
      if (read_ec && store.capabilities().shared) {
        log::write(spdlog::level::warn, "scrub: cannot read: " + read_ec.message(),
                   {{"client", record.client}, {"backup", record.id}});
        continue;
      }
      // Gone since it was listed (removed, replaced): nothing to say about it. quarantine()
      // checks that again under the storage lock.
      const auto now_stored = store.find(record.client, record.id);
      if (!now_stored || !*now_stored || (*now_stored)->sha256 != record.sha256) continue;
      const auto ec = store.quarantine(record, reader->identity());
      if (ec == std::errc::no_such_file_or_directory) continue;
      ++corrupt;
      auto finding = events::make_event("scrub.finding", "receiver");
      finding.client = record.client;
      finding.database = record.database;
      finding.backup = record.id;
      finding.result = "finding";
      finding.size_bytes = record.size;
      finding.message =
          "stored bytes have sha256 " + digest + " (" + std::to_string(file_bytes) +
          " bytes), the record says " + record.sha256 +
          (ec ? "; it could not be moved to .quarantine/" : "; moved to .quarantine/");
      finding.details["trigger"] = trigger;
      if (const auto noted = ctx_->reports.note_finding(
              record.client, record.database,
              {record.id, finding.message, format_utc(sys_clock::now())})) {
        lg.warn("scrub: cannot keep the finding for /api/status: {}", noted.message());
      }
      ctx_->events.publish(std::move(finding));
      if (ec) {
        lg.error(
            "scrub: stored bytes have sha256 {} ({} bytes), the record says {}; cannot move "
            "it to .quarantine/: {}",
            digest, file_bytes, record.sha256, ec.message());
      } else {
        lg.error(
            "scrub: stored bytes have sha256 {} ({} bytes), the record says {}; moved to "
            ".quarantine/",
            digest, file_bytes, record.sha256);
      }
    }
  }
  const auto now = sys_clock::now();
  last_completed_ = now;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  if (const auto ec = fs::write_file_atomically(state_file(*ctx_),
                                                std::to_string(seconds.count()) + " completed\n")) {
    log::write(spdlog::level::warn, "scrub: cannot record its completion: " + ec.message(), {});
  }
  ctx_->metrics.scrub_completed(now);
  ctx_->metrics.refresh(*ctx_->store, ctx_->incoming);
  log::write(corrupt > 0 ? spdlog::level::err : spdlog::level::info, "scrub completed",
             {{"checked", checked}, {"corrupt", corrupt}, {"bytes", bytes}});
}

}  // namespace pgship::receiver
