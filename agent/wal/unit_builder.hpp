#pragma once
// Cuts the replication stream into sealed units (sealed_unit.hpp). A unit never crosses a
// segment boundary; it is sealed when it reaches its segment's end, when its plaintext reaches
// the size cap (min(segment size, 16 MiB)), when its first byte has waited `max_wait` (so the
// receiver's acknowledgement lands within WAL_ACK_INTERVAL even when a segment fills slowly),
// or when the caller asks (timeline end, reconnect, stop). Bytes stream through the chain as
// they come: only the stored bytes of the open unit are held.

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/stored_format.hpp>

#include "wal/sealed_unit.hpp"

namespace pgship::agent::wal {

class unit_builder {
 public:
  using clock = std::chrono::steady_clock;

  unit_builder(io::stored_format format, io::codec_settings codec, std::uint64_t segment_size,
               std::chrono::milliseconds max_wait);
  ~unit_builder();
  unit_builder(const unit_builder&) = delete;
  unit_builder& operator=(const unit_builder&) = delete;

  /// WAL bytes that start at `at` on `timeline`. They must continue what came before (at ==
  /// next()), unless nothing is open (after seal() or at the start), where any position is
  /// taken. `server` is the XLogData header's (send time, WAL end). Returns the units this
  /// completed (a message crossing a segment end seals the first part). A codec failure
  /// throws std::system_error (it cannot happen on memory buffers short of a bug).
  std::vector<sealed_unit> append(timeline_id timeline, lsn at, std::span<const std::byte> bytes,
                                  wire::wal::time_sample server, clock::time_point now);
  /// A keepalive's (send time, WAL end): goes into the open unit's time map, if one is open.
  void note_time(wire::wal::time_sample server);
  /// Seals the open unit if its first byte has waited max_wait by `now`.
  std::optional<sealed_unit> seal_if_due(clock::time_point now);
  /// Seals whatever is open (nothing when empty).
  std::optional<sealed_unit> seal();
  /// When the open unit falls due; nullopt when nothing is open.
  std::optional<clock::time_point> deadline() const;
  /// Where the next byte must start (valid while a unit is open or after one was sealed).
  lsn next() const;
  /// Bytes held by the open unit (its stored bytes so far).
  std::uint64_t held_bytes() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A timeline history file (TIMELINE_HISTORY's content) through the same chain as a unit,
/// named `<tli>.history` plus the format's extensions.
sealed_unit seal_history_file(timeline_id timeline, std::string_view content,
                              const io::stored_format& format, const io::codec_settings& codec,
                              std::uint64_t segment_size, unit_builder::clock::time_point now);

}  // namespace pgship::agent::wal
