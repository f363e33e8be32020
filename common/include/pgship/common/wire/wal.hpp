#pragma once
// The physical archive's routes as both programs speak them (README "Physical archive"): the
// agent PUTs sealed units (wal/wal_names.hpp) in WAL order; restore_command lists a segment's
// units and fetches them; the agent reads the archive's state to know where to resume.
//
//   PUT  /api/wal/{system}/units/{name}      upload: one sealed unit (or a history file)
//   GET  /api/wal/{system}/units/{name}      read:   its stored bytes
//   GET  /api/wal/{system}/segments/{file}   read:   the units restore_command joins (list_body)
//   GET  /api/wal/{system}                   read:   the archive's state (archive_state)
//   POST /api/wal/{system}/gaps              upload: record WAL the server lost (gap_record)
//   PUT  /api/wal/{system}/basebackups/{id}  upload: a base backup's completion mark
//                                            (basebackup_mark; 409 wal_incomplete unless the
//                                            backup is stored and its WAL is held)
//
// {system} is the cluster's system identifier (IDENTIFY_SYSTEM), in decimal.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pgship/common/sha256.hpp>
#include <pgship/common/wal/wal_names.hpp>

namespace pgship::wire::wal {

inline constexpr std::string_view prefix = "/api/wal/";
inline constexpr std::string_view units_part = "/units/";
inline constexpr std::string_view segments_part = "/segments/";
inline constexpr std::string_view bundles_part = "/bundles/";
inline constexpr std::string_view gaps_part = "/gaps";
inline constexpr std::string_view basebackups_part = "/basebackups/";

/// The largest unit body the receiver takes (a whole 1 GiB segment is shipped in pieces).
inline constexpr std::uint64_t max_unit_bytes = 64ull << 20;

/// A system identifier: 1 to 20 decimal digits.
bool is_system_id(std::string_view text);

std::string system_path(std::string_view system);
std::string unit_path(std::string_view system, std::string_view unit_file_name);
std::string segment_path(std::string_view system, std::string_view segment_or_history);
std::string bundle_path(std::string_view system, std::string_view segment_or_history);
std::string gaps_path(std::string_view system);
std::string basebackup_mark_path(std::string_view system, std::string_view backup_id);

/// Headers of a unit PUT (X-Content-SHA256, the stored bytes' hash, is required too).
namespace header {
/// The plaintext's SHA-256 (64 hex): with the stem, the unit's identity.
inline constexpr std::string_view plaintext_sha256 = "X-Wal-Plaintext-SHA256";
/// The plaintext's size, which must equal end - start of the name.
inline constexpr std::string_view plaintext_size = "X-Wal-Plaintext-Size";
/// The cluster's wal_segment_size; every unit of a system must say the same.
inline constexpr std::string_view segment_size = "X-Wal-Segment-Size";
/// Server time against position: "<unix ms>@<X/X>,..." (time_sample), oldest first.
inline constexpr std::string_view time_map = "X-Wal-Time-Map";
/// On a history file's PUT: "<parent timeline>@<X/X>", where the file's timeline branched off
/// its parent (the history's last line). The receiver keeps it to walk recoveries across
/// timelines; it cannot read the file itself (ciphertext with age).
inline constexpr std::string_view timeline_switch = "X-Wal-Timeline-Switch";
}  // namespace header

/// Where a timeline branched off its parent.
struct switch_point {
  pgship::wal::timeline_id parent = 0;
  pgship::wal::lsn at = 0;  // the first position of the child timeline
  bool operator==(const switch_point&) const = default;
};
std::string encode_switch(const switch_point& point);
/// nullopt for malformed text or a parent 0.
std::optional<switch_point> decode_switch(std::string_view text);

/// One point of the time map: the primary's clock when it sent WAL up to `position`.
struct time_sample {
  std::int64_t unix_ms = 0;
  pgship::wal::lsn position = 0;
  bool operator==(const time_sample&) const = default;
};
std::string encode_time_map(const std::vector<time_sample>& samples);
/// nullopt for malformed text; an empty text is an empty map.
std::optional<std::vector<time_sample>> decode_time_map(std::string_view text);

/// GET segments/{file}: line 1 "pgship-wal-list 1 <segment size> <state>", then one
/// "<unit file name> <start offset>" line per unit, in the order to join them (a unit may start
/// before the previous one ends: restore_command cuts back to its start first).
inline constexpr std::string_view list_magic = "pgship-wal-list 1";
enum class list_state { complete, partial, history };
std::string_view to_string(list_state state);
struct list_entry {
  std::string unit;     // stored file name
  std::uint32_t start;  // offset in the segment (0 for a history file)
  bool operator==(const list_entry&) const = default;
};
struct segment_list {
  std::uint64_t segment_size = 0;
  list_state state = list_state::complete;
  std::vector<list_entry> units;
  bool operator==(const segment_list&) const = default;
};
std::string encode_list(const segment_list& list);
std::optional<segment_list> decode_list(std::string_view body);

/// GET bundles/{file}: the units segments/{file} lists, in one answer, so that recovery pays one
/// round trip per segment however many units a quiet stream sealed. The body is a head, line 1
/// "pgship-wal-bundle 1 <segment size> <state>", then one line per unit
/// "<unit file name> <start offset> <stored size> <stored sha256> <plaintext sha256>", then an
/// empty line; after it the units' stored bytes, one after another, in the head's order.
inline constexpr std::string_view bundle_magic = "pgship-wal-bundle 1";
struct bundle_entry {
  std::string unit;
  std::uint32_t start = 0;
  std::uint64_t stored_size = 0;
  sha256_digest stored_sha256{};
  sha256_digest plaintext_sha256{};
  bool operator==(const bundle_entry&) const = default;
};
struct bundle_head {
  std::uint64_t segment_size = 0;
  list_state state = list_state::complete;
  std::vector<bundle_entry> units;
  bool operator==(const bundle_head&) const = default;
};
/// The head with its closing empty line.
std::string encode_bundle_head(const bundle_head& head);
/// The head's lines (without the closing empty line); nullopt for anything else.
std::optional<bundle_head> decode_bundle_head(std::string_view text);
/// The longest head a reader accepts (a 1 GiB segment of small units stays well under it).
inline constexpr std::size_t bundle_head_limit = 64 * 1024 * 1024;

/// GET /api/wal/{system}: what the receiver holds for one system.
struct lsn_range {
  pgship::wal::lsn from = 0;  // first byte held
  pgship::wal::lsn to = 0;    // past the last byte held
  bool operator==(const lsn_range&) const = default;
};
struct timeline_state {
  pgship::wal::timeline_id timeline = 0;
  std::vector<lsn_range> ranges;  // merged, ascending
  bool history = false;           // its history file is stored (timelines > 1)
  bool operator==(const timeline_state&) const = default;
};
/// WAL the archive will never hold: the server removed it before it was streamed (a lost
/// slot). Recovery cannot cross it; a base backup taken after `to` is the way on.
struct gap_record {
  pgship::wal::timeline_id timeline = 0;  // the timeline streaming resumed on
  pgship::wal::lsn from = 0;              // the first byte missing
  pgship::wal::lsn to = 0;                // where streaming resumed; from < to
  std::string reason;                     // "slot_lost", "wal_removed"
  std::string detected_at;                // UTC, RFC 3339
  bool operator==(const gap_record&) const = default;
  /// Two records of the same timeline and range are the same gap.
  bool same_gap(const gap_record& other) const {
    return timeline == other.timeline && from == other.from && to == other.to;
  }
};
/// {"timeline":1,"from":"0/3000000","to":"0/5000000","reason":"...","detected_at":"..."}
std::string encode_gap(const gap_record& gap);
/// nullopt for anything else (and for from >= to, timeline 0, an empty or long reason).
std::optional<gap_record> decode_gap(std::string_view json);

/// A base backup's completion mark: the receiver accepted it because the backup is stored and
/// its archive holds the WAL from start_lsn to stop_lsn on `timeline`. A base backup without
/// one restores nothing (its files are torn without that WAL).
struct basebackup_mark {
  std::string id;                         // the backup's name, pgdata-<stamp>.base.tar[...]
  pgship::wal::timeline_id timeline = 0;  // the timeline of its WAL
  pgship::wal::lsn start_lsn = 0;
  pgship::wal::lsn stop_lsn = 0;  // start_lsn <= stop_lsn
  /// The primary's time at the stop position as the agent knows it (the base backup COPY's end on
  /// the agent's clock: the stop checkpoint is behind it), unix ms: the oldest recovery target.
  std::int64_t stop_time_ms = 0;
  bool operator==(const basebackup_mark&) const = default;
};
/// {"id":"...","timeline":1,"start_lsn":"0/2000028","stop_lsn":"0/2000100",
///  "stop_time":1767225600123,"stop_time_utc":"2026-01-01T00:00:00.123Z"}
std::string encode_mark(const basebackup_mark& mark);
/// nullopt for anything else; "id" may be absent (the route's {id} names it), "stop_time" is
/// unix ms or UTC text ("YYYY-MM-DDTHH:MM:SS[.mmm]Z").
std::optional<basebackup_mark> decode_mark(std::string_view json);

/// The point-in-time recovery window of a system: recovery targets from `oldest` (the stop time
/// of the oldest complete base backup from whose start the WAL is contiguous to the newest
/// run's end) to `newest` (the newest time-map sample inside that run), unix ms.
struct pitr_window {
  std::int64_t oldest_ms = 0;
  std::int64_t newest_ms = 0;
  bool operator==(const pitr_window&) const = default;
};

struct archive_state {
  std::string system;
  std::uint64_t segment_size = 0;
  std::vector<timeline_state> timelines;     // ascending
  std::vector<gap_record> gaps;              // recorded gaps, by timeline and position
  std::vector<basebackup_mark> basebackups;  // complete base backups, oldest stop first
  std::optional<pitr_window> pitr;           // none without a complete base backup
  /// The end of the newest timeline's last range: where a stream resumes.
  struct position {
    pgship::wal::timeline_id timeline = 0;
    pgship::wal::lsn at = 0;
    bool operator==(const position&) const = default;
  };
  std::optional<position> durable_end() const;
  bool operator==(const archive_state&) const = default;
};
std::string encode_state(const archive_state& state);
std::optional<archive_state> decode_state(std::string_view json);

}  // namespace pgship::wire::wal
