#pragma once
// The physical archive (issue 28): each client's WAL as sealed units (wal/wal_names.hpp) and
// timeline history files, per system identifier. Reached through storage::wal(). On disk
// (posix/posix_wal_store.hpp; S3 keeps the same keys under <prefix>.wal/, s3/s3_wal_store.hpp):
//
//   STORAGE_DIR/.wal/<client>/<system>/meta.json                  segment size (create-only)
//                                     /<segment24>/<unit>          stored bytes
//                                     /<segment24>/<unit>.json     their sidecar (wal_unit_meta)
//                                     /history/<tli>.history[.zst][.age](.json)
//                                     /gaps/<tli>-<from16hex>-<to16hex>.json   (gap_record)
//                                     /basebackups/<backup id>.json   (basebackup_mark, clear)
//
// A file is stored create-only by its stem: any codec variant of the same stem is the same WAL,
// so a second copy with the same plaintext SHA-256 is `identical` (the first one stays) and one
// with another is a `conflict`. Implementations are thread-safe and blocking, like storage.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pgship/common/sha256.hpp>
#include <pgship/common/wire/wal.hpp>

#include "storage/storage.hpp"

namespace pgship::receiver {

/// Where a stored file of the archive lives within its system, from its name alone.
struct wal_file_name {
  std::string dir;   // the segment's 24-hex name, or "history"
  std::string stem;  // what the file holds, whatever the codecs: its identity with the hash
  std::string file;  // the stored name
  bool operator==(const wal_file_name&) const = default;
};
inline constexpr std::string_view wal_history_dir = "history";
/// A unit's or a history file's stored name; nullopt for anything else.
std::optional<wal_file_name> parse_wal_file_name(std::string_view name);
/// The four stored names a stem may have (plain, .zst, .age, .zst.age).
std::vector<std::string> wal_codec_variants(std::string_view stem);

/// What the receiver knows of one stored file, kept beside it.
struct wal_unit_meta {
  sha256_digest plaintext_sha256{};
  std::uint64_t plaintext_size = 0;
  sha256_digest stored_sha256{};
  std::uint64_t stored_size = 0;
  std::string time_map;  // X-Wal-Time-Map as received ("" when none)
  std::chrono::system_clock::time_point received_at{};
  std::string timeline_switch;  // a history file's X-Wal-Timeline-Switch ("" when none)
  bool operator==(const wal_unit_meta&) const = default;
};
std::string to_json(const wal_unit_meta& meta);
std::optional<wal_unit_meta> wal_unit_meta_from_json(std::string_view json);

/// A system's meta.json: written by the first file stored for it, never changed.
struct wal_system_meta {
  std::uint64_t segment_size = 0;
  std::chrono::system_clock::time_point first_seen{};
  bool operator==(const wal_system_meta&) const = default;
};
std::string to_json(const wal_system_meta& meta);
std::optional<wal_system_meta> wal_system_meta_from_json(std::string_view json);

/// One client's system.
struct wal_key {
  std::string client;
  std::string system;
};

/// A stored file with what is known of it.
/// A gap's record name: "<tli>-<from>-<to>.json", positions as 16 hex digits.
std::string wal_gap_file_name(const wire::wal::gap_record& gap);
inline constexpr std::string_view wal_gaps_dir = "gaps";
/// A completion mark's record name: "<backup id>.json"; nullopt unless the id is a base
/// backup's name (backup_name.hpp, kind basebackup).
std::optional<std::string> wal_mark_file_name(std::string_view backup_id);
inline constexpr std::string_view wal_marks_dir = "basebackups";

struct wal_stored_file {
  std::string name;
  wal_unit_meta meta;
};

enum class wal_put_outcome {
  created,    // stored now
  identical,  // a file of the same stem and plaintext SHA-256 was stored: it stays
  conflict,   // a file of the same stem with another plaintext SHA-256 is stored
};

/// The fsynced spool file `spooled` (its bytes hashed as meta.stored_sha256) to store as
/// `name` of `key`'s system.
struct wal_put_request {
  wal_key key;
  wal_file_name name;
  std::filesystem::path spooled;
  wal_unit_meta meta;
};

struct wal_put_result {
  wal_put_outcome outcome = wal_put_outcome::created;
  /// The file stored under the stem now (for identical and conflict, the one that was there).
  wal_stored_file stored;
};

class wal_store {
 public:
  virtual ~wal_store() = default;

  /// The system's meta; when it has none yet, one with `segment_size` is made durable first.
  /// The caller compares the segment size it gets with its own.
  virtual result<wal_system_meta> claim_system(const wal_key& key, std::uint64_t segment_size) = 0;
  /// nullopt when the client has no such system.
  virtual result<std::optional<wal_system_meta>> system_meta(const wal_key& key) const = 0;

  /// Stores the request's file create-only by stem, durable before it returns (fs: sidecar
  /// written atomically, spool file renamed, directory synced). On success the spool file is
  /// gone whatever the outcome; on error it is left for the caller and nothing is visible.
  virtual result<wal_put_result> put(wal_put_request request) = 0;

  /// The files of one directory of the system (a segment's 24-hex name, or "history"), by name.
  virtual result<std::vector<wal_stored_file>> list_dir(const wal_key& key,
                                                        std::string_view dir) const = 0;
  /// Every file name of the system (units and history files), for the index.
  virtual result<std::vector<std::string>> list_names(const wal_key& key) const = 0;
  /// One file; nullopt when there is none of that exact name.
  virtual result<std::optional<wal_stored_file>> find(const wal_key& key,
                                                      const wal_file_name& name) const = 0;
  /// Records a gap of the system (create-only by timeline and range, durable before it
  /// returns): `created`, or `identical` when that gap was recorded before (the first record
  /// stays). A backend without gap records answers operation_not_supported.
  virtual result<wal_put_outcome> put_gap(const wal_key& key, const wire::wal::gap_record& gap);
  /// The system's recorded gaps, by timeline and position.
  virtual result<std::vector<wire::wal::gap_record>> list_gaps(const wal_key& key) const;
  /// How many gaps are recorded over all of `client`'s systems.
  virtual result<std::uint64_t> count_gaps(const std::string& client) const;

  /// Records a base backup's completion mark (create-only by backup id, durable before it
  /// returns): `created`; `identical` when the same mark is recorded; `conflict` when another
  /// mark of that id is (the first stays). EINVAL for an id that is not a base backup's name. A
  /// backend without marks answers operation_not_supported.
  virtual result<wal_put_outcome> put_basebackup_mark(const wal_key& key,
                                                      const wire::wal::basebackup_mark& mark);
  /// The system's marks, by id.
  virtual result<std::vector<wire::wal::basebackup_mark>> list_basebackup_marks(
      const wal_key& key) const;
  /// `client`'s systems (those with a meta); operation_not_supported where listing them costs
  /// more than /metrics may spend (S3).
  virtual result<std::vector<std::string>> systems(const std::string& client) const;

  /// `client`'s systems however much listing them costs (retention); by default systems().
  virtual result<std::vector<std::string>> list_systems(const std::string& client) const;
  /// The system's segment directories (24-hex names), sorted.
  virtual result<std::vector<std::string>> list_segments(const wal_key& key) const;

  /// Retention (policy/retention_plan.hpp). Each removal takes the bytes out of usage(); what
  /// is not there is no error. A backend that cannot delete answers operation_not_supported.
  /// A segment directory with every unit and sidecar in it: data files first, so a unit is
  /// never listed without its bytes.
  virtual std::error_code remove_segment(const wal_key& key, std::string_view segment);
  virtual std::error_code remove_gap(const wal_key& key, const wire::wal::gap_record& gap);
  virtual std::error_code remove_basebackup_mark(const wal_key& key, std::string_view backup_id);

  /// Bytes [first, first + length) of a stored file; ENOENT when it is gone.
  virtual result<std::unique_ptr<object_reader>> open_range(const wal_key& key,
                                                            const wal_file_name& name,
                                                            std::uint64_t first,
                                                            std::uint64_t length) const = 0;

  /// Stored bytes (units and history files as stored, sidecars aside) per client: counted once
  /// when the store opens, then kept current by put(). They count against QUOTA_BYTES beside
  /// the backups and are pgship_receiver_wal_bytes.
  virtual std::map<std::string, std::uint64_t> usage() const = 0;
  /// Counts usage() again from what is stored: what another process deleted (`pgship-receiver
  /// retention` beside the server, a replica) leaves the quota and the metrics.
  virtual void recount() {}
};

}  // namespace pgship::receiver
