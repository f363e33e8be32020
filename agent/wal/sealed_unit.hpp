#pragma once
// One sealed unit of WAL (common/wal/wal_names.hpp): a byte range inside one segment, through
// the chain on its own (zstd frame, age file), held in memory until the receiver has made it
// durable. The slot is the only spool: a unit lost with the process is streamed again.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

namespace pgship::agent::wal {

using pgship::wal::lsn;
using pgship::wal::timeline_id;

struct sealed_unit {
  pgship::wal::unit_name name;  // segment, offsets, stored format
  timeline_id timeline = 0;
  lsn start = 0;       // position of the first plaintext byte
  lsn end = 0;         // position past the last one: what the slot may release once it is durable
  std::string stored;  // the bytes the receiver keeps (ciphertext with age)
  std::string stored_sha256;     // lowercase hex of `stored`
  std::string plaintext_sha256;  // lowercase hex of the WAL bytes: the identity with the stem
  std::uint64_t plaintext_size = 0;
  std::uint64_t segment_size = 0;
  std::vector<wire::wal::time_sample> time_map;  // server time against position, oldest first
  /// When the agent received the unit's first byte: its age is the RPO at risk.
  std::chrono::steady_clock::time_point first_received;
  /// A timeline history file instead of WAL (`history_file` is its stored name): shipped
  /// before the timeline's first unit, it moves no position.
  bool history = false;
  std::string history_file;
  std::optional<wire::wal::switch_point> timeline_switch;  // where its timeline branched off
  /// The end reaches the segment's end: the segment is whole on the receiver once this is.
  bool ends_segment() const { return !history && name.end == segment_size; }
  /// The name it is stored under.
  std::string file_name() const { return history ? history_file : name.file_name(); }
};

}  // namespace pgship::agent::wal
