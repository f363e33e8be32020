#pragma once
// WAL positions and file names as PostgreSQL spells them, and the names of the physical
// archive's sealed units, shared by the agent (which cuts and names them) and the receiver
// (which stores, lists and chains them for restore_command).
//
// A sealed unit is one byte range [start, end) inside one WAL segment, compressed and encrypted
// on its own, so that everything the receiver acknowledged can be decrypted alone:
//   000000010000000000000003.00400000-01000000.zst.age
//   <segment file name>     .<start>-<end, exclusive> <io::stored_extension>
// The stem (the name without codec extensions) says which WAL bytes a unit holds; two units
// with the same stem hold the same plaintext (flushed WAL of a timeline never changes).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <pgship/common/io/stored_format.hpp>

namespace pgship::wal {

/// A WAL position (XLogRecPtr), a byte count from the start of WAL.
using lsn = std::uint64_t;
using timeline_id = std::uint32_t;

/// "16/B374D848", as pg_current_wal_lsn() prints it.
std::string format_lsn(lsn position);
/// The position "X/X" says; nullopt for anything else.
std::optional<lsn> parse_lsn(std::string_view text);

/// A power of two from 1 MiB to 1 GiB (initdb --wal-segsize).
bool valid_segment_size(std::uint64_t segment_size);

/// A WAL segment: its timeline and number (position / segment size).
struct segment_id {
  timeline_id timeline = 0;
  std::uint64_t number = 0;

  lsn start(std::uint64_t segment_size) const { return number * segment_size; }
  bool operator==(const segment_id&) const = default;
};

/// The segment that holds `position`.
inline segment_id segment_of(timeline_id timeline, lsn position, std::uint64_t segment_size) {
  return {timeline, position / segment_size};
}

/// XLogFileName: 24 upper-case hex digits, "000000010000000000000003".
std::string segment_name(const segment_id& segment, std::uint64_t segment_size);
/// The segment a 24-hex-digit name (upper case, as PostgreSQL writes it) says; nullopt for
/// anything else.
std::optional<segment_id> parse_segment_name(std::string_view name, std::uint64_t segment_size);
/// 24 upper-case hex digits; the segment size is needed to say which segment it is.
bool is_segment_name(std::string_view name);

/// "00000002.history".
std::string history_name(timeline_id timeline);
/// The timeline of "00000002.history"; nullopt for anything else (timeline 0 included).
std::optional<timeline_id> parse_history_name(std::string_view name);

/// A unit's name, parsed.
struct unit_name {
  std::string segment;      // the segment's file name (24 hex digits)
  std::uint32_t start = 0;  // offset of the first byte in the segment
  std::uint32_t end = 0;    // offset past the last byte; start < end
  io::stored_format format;

  /// "<segment>.<start>-<end>": which WAL bytes, whatever the codecs.
  std::string stem() const;
  /// The stem with the format's extensions.
  std::string file_name() const;
  bool operator==(const unit_name&) const = default;
};

/// "<segment>.%08X-%08X".
std::string unit_stem(std::string_view segment, std::uint32_t start, std::uint32_t end);
/// A unit's stored name; nullopt for anything else (offsets must be 8 upper-case hex digits with
/// start < end, codec extensions as io::stored_extension writes them, nothing more).
std::optional<unit_name> parse_unit_name(std::string_view name);
/// A history file's stored name: "00000002.history" plus the format's extensions.
struct history_file {
  timeline_id timeline = 0;
  io::stored_format format;
};
std::optional<history_file> parse_history_file(std::string_view name);

}  // namespace pgship::wal
