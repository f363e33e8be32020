#include "wal/unit_builder.hpp"
#include <algorithm>
#include <stdexcept>
#include <string>
#include <system_error>

#include <pgship/common/io/filters.hpp>
#include <pgship/common/sha256.hpp>

namespace pgship::agent::wal {

namespace {

/// The largest unit: a receiver takes bodies up to 64 MiB, and a unit in memory is what a
/// crash loses to re-streaming.
constexpr std::uint64_t max_unit_plaintext = 16ull << 20;

/// Room for the first and the last sample and the ones between.
constexpr std::size_t max_time_samples = 8;

/// Collects the stored bytes as one string, the form a sealed unit keeps them in (no copy at
/// the seal).
class string_sink final : public io::sink {
 public:
  std::error_code write(std::span<const char> data) override {
    bytes_.append(data.data(), data.size());
    return {};
  }
  std::error_code finish() override { return {}; }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

/// The time map of one unit: the first sample, about one per `spacing` of server time, and
/// the newest, at most max_time_samples in all.
class time_map_builder {
 public:
  explicit time_map_builder(std::chrono::milliseconds spacing) : spacing_ms_(spacing.count()) {}

  void note(const wire::wal::time_sample& sample) {
    if (kept_.empty()) {
      kept_.push_back(sample);
      return;
    }
    if (sample == kept_.back() || (newest_ && sample == *newest_)) return;
    if (sample.unix_ms - kept_.back().unix_ms >= spacing_ms_ &&
        kept_.size() < max_time_samples - 1) {
      kept_.push_back(sample);
      newest_.reset();
      return;
    }
    newest_ = sample;
  }

  std::vector<wire::wal::time_sample> take() {
    if (newest_) kept_.push_back(*newest_);
    newest_.reset();
    return std::move(kept_);
  }

 private:
  std::int64_t spacing_ms_;
  std::vector<wire::wal::time_sample> kept_;
  std::optional<wire::wal::time_sample> newest_;  // the last one seen, not kept yet
};

/// The unit being filled: its chain (plain SHA-256 → codecs → stored SHA-256 → memory).
struct open_unit {
  string_sink out;
  io::filter_group chain{out};
  io::hash_filter* plain_hash = nullptr;
  io::hash_filter* stored_hash = nullptr;
  timeline_id timeline = 0;
  lsn start = 0;
  lsn end = 0;
  lsn limit = 0;  // where it must be sealed: the segment's end or the size cap
  unit_builder::clock::time_point first_received;
  time_map_builder times;

  open_unit(const io::stored_format& format, const io::codec_settings& codec,
            std::chrono::milliseconds spacing)
      : times(spacing) {
    stored_hash = &chain.push_front<io::hash_filter>();
    io::push_write_stages(chain, format, codec);
    plain_hash = &chain.push_front<io::hash_filter>();
  }
};

}  // namespace

struct unit_builder::impl {
  io::stored_format format;
  io::codec_settings codec;
  std::uint64_t segment_size = 0;
  std::uint64_t cap = 0;
  std::chrono::milliseconds max_wait;
  std::unique_ptr<open_unit> open;
  lsn next = 0;

  void start(timeline_id timeline, lsn at, clock::time_point now) {
    open = std::make_unique<open_unit>(format, codec, max_wait);
    open->timeline = timeline;
    open->start = at;
    open->end = at;
    const lsn segment_end = (at / segment_size + 1) * segment_size;
    open->limit = std::min(segment_end, at + cap);
    open->first_received = now;
  }

  void write(std::span<const std::byte> bytes) {
    const std::span<const char> piece(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (auto ec = open->chain.write(piece)) {
      const auto why = open->chain.describe(ec);
      open->chain.abort();
      open.reset();
      throw std::system_error(ec, "sealing WAL: " + why);
    }
    open->end += bytes.size();
    next = open->end;
  }

  std::optional<sealed_unit> seal() {
    if (!open) return std::nullopt;
    auto unit = std::move(open);
    if (unit->end == unit->start) return std::nullopt;
    if (auto ec = unit->chain.finish()) {
      const auto why = unit->chain.describe(ec);
      throw std::system_error(ec, "sealing WAL: " + why);
    }
    const auto segment = pgship::wal::segment_of(unit->timeline, unit->start, segment_size);
    const lsn segment_start = segment.start(segment_size);
    sealed_unit sealed;
    sealed.name.segment = pgship::wal::segment_name(segment, segment_size);
    sealed.name.start = static_cast<std::uint32_t>(unit->start - segment_start);
    sealed.name.end = static_cast<std::uint32_t>(unit->end - segment_start);
    sealed.name.format = format;
    sealed.timeline = unit->timeline;
    sealed.start = unit->start;
    sealed.end = unit->end;
    sealed.stored = std::move(unit->out.bytes());
    sealed.stored_sha256 = to_hex(unit->stored_hash->digest());
    sealed.plaintext_sha256 = to_hex(unit->plain_hash->digest());
    sealed.plaintext_size = unit->plain_hash->bytes();
    sealed.segment_size = segment_size;
    sealed.time_map = unit->times.take();
    sealed.first_received = unit->first_received;
    return sealed;
  }
};

unit_builder::unit_builder(io::stored_format format, io::codec_settings codec,
                           std::uint64_t segment_size, std::chrono::milliseconds max_wait)
    : impl_(std::make_unique<impl>()) {
  if (!pgship::wal::valid_segment_size(segment_size)) {
    throw std::invalid_argument("WAL segment size " + std::to_string(segment_size) +
                                " is not a power of two from 1 MiB to 1 GiB");
  }
  impl_->format = format;
  impl_->codec = std::move(codec);
  // One unit is a small frame filled over about a second: worker threads would cost more than
  // they win (design §2.3).
  impl_->codec.zstd_threads = 0;
  impl_->segment_size = segment_size;
  impl_->cap = std::min(segment_size, max_unit_plaintext);
  impl_->max_wait = max_wait;
}

unit_builder::~unit_builder() = default;

std::vector<sealed_unit> unit_builder::append(timeline_id timeline, lsn at,
                                              std::span<const std::byte> bytes,
                                              wire::wal::time_sample server,
                                              clock::time_point now) {
  auto& d = *impl_;
  if (d.open && (timeline != d.open->timeline || at != d.open->end)) {
    throw std::invalid_argument("WAL at " + pgship::wal::format_lsn(at) + " on timeline " +
                                std::to_string(timeline) + " does not continue the open unit at " +
                                pgship::wal::format_lsn(d.open->end) + " on timeline " +
                                std::to_string(d.open->timeline));
  }
  std::vector<sealed_unit> sealed;
  if (!d.open) d.next = at;
  while (!bytes.empty()) {
    if (!d.open) d.start(timeline, d.next, now);
    d.open->times.note(server);
    const auto room = static_cast<std::size_t>(d.open->limit - d.open->end);
    const auto take = std::min(room, bytes.size());
    d.write(bytes.first(take));
    bytes = bytes.subspan(take);
    if (d.open->end == d.open->limit) {
      if (auto unit = d.seal()) sealed.push_back(std::move(*unit));
    }
  }
  return sealed;
}

void unit_builder::note_time(wire::wal::time_sample server) {
  if (impl_->open) impl_->open->times.note(server);
}

std::optional<sealed_unit> unit_builder::seal_if_due(clock::time_point now) {
  const auto due = deadline();
  if (!due || now < *due) return std::nullopt;
  return impl_->seal();
}

std::optional<sealed_unit> unit_builder::seal() {
  return impl_->seal();
}

std::optional<unit_builder::clock::time_point> unit_builder::deadline() const {
  if (!impl_->open) return std::nullopt;
  return impl_->open->first_received + impl_->max_wait;
}

lsn unit_builder::next() const {
  return impl_->next;
}

std::uint64_t unit_builder::held_bytes() const {
  return impl_->open ? impl_->open->out.bytes().size() : 0;
}

}  // namespace pgship::agent::wal

namespace pgship::agent::wal {

sealed_unit seal_history_file(timeline_id timeline, std::string_view content,
                              const io::stored_format& format, const io::codec_settings& codec,
                              std::uint64_t segment_size, unit_builder::clock::time_point now) {
  auto single_threaded = codec;
  single_threaded.zstd_threads = 0;
  open_unit file(format, single_threaded, std::chrono::milliseconds(1000));
  if (auto ec = file.chain.write(std::span<const char>(content.data(), content.size()))) {
    const auto why = file.chain.describe(ec);
    file.chain.abort();
    throw std::system_error(ec, "sealing a timeline history: " + why);
  }
  if (auto ec = file.chain.finish()) {
    throw std::system_error(ec, "sealing a timeline history: " + file.chain.describe(ec));
  }
  sealed_unit sealed;
  sealed.history = true;
  sealed.history_file = io::stored_extension(pgship::wal::history_name(timeline), format);
  sealed.name.format = format;
  sealed.timeline = timeline;
  sealed.stored = std::move(file.out.bytes());
  sealed.stored_sha256 = to_hex(file.stored_hash->digest());
  sealed.plaintext_sha256 = to_hex(file.plain_hash->digest());
  sealed.plaintext_size = file.plain_hash->bytes();
  sealed.segment_size = segment_size;
  sealed.first_received = now;
  return sealed;
}

}  // namespace pgship::agent::wal
