#pragma once
// Reads pg_basebackup's tar as it passes (every byte goes on unchanged): the 512-byte member
// headers, the `backup_label` member (START WAL LOCATION, START TIMELINE, START TIME) and the
// `backup_manifest` member PostgreSQL appends last (its SHA-256, and from its tail the
// "WAL-Ranges": the timeline and the start and end of the WAL the backup needs; the end is
// the backup's stop position). Nothing is kept but those two members' few bytes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <pgship/common/io/sink.hpp>
#include <pgship/common/sha256.hpp>
#include <pgship/common/wal/wal_names.hpp>

#include "pipeline/tar_reader.hpp"

namespace pgship::agent {

/// What the tar said about the base backup.
struct base_backup_positions {
  std::optional<wal::lsn> label_start;  // backup_label's START WAL LOCATION
  wal::timeline_id label_timeline = 0;  // backup_label's START TIMELINE
  std::string start_time;               // backup_label's START TIME, as written
  // backup_manifest's WAL-Ranges: the first range's start, the last range's end and timeline.
  std::optional<wal::lsn> start;
  std::optional<wal::lsn> stop;
  wal::timeline_id timeline = 0;
  std::string manifest_sha256;  // of the backup_manifest member (hex)
  std::uint64_t manifest_size = 0;
  std::uint64_t members = 0;
  bool complete = false;  // the end-of-archive blocks were seen
};

/// Reads `backup_label` text; what it finds goes into `out`.
void parse_backup_label(std::string_view text, base_backup_positions& out);
/// Reads the end of a backup manifest (its "WAL-Ranges"); false when they are not there.
bool parse_manifest_wal_ranges(std::string_view tail, base_backup_positions& out);

class basebackup_tar_tap final : public io::filter, private tar_handler {
 public:
  explicit basebackup_tar_tap(io::sink& next) : io::filter(next), reader_(*this) {}
  std::error_code write(std::span<const char> data) override;
  std::error_code finish() override;

  const base_backup_positions& positions() const { return found_; }
  /// Why the tar or its two members could not be read; empty when they were.
  const std::string& problem() const { return problem_; }

 private:
  static constexpr std::size_t label_limit = 64 * 1024;
  static constexpr std::size_t manifest_tail = 64 * 1024;

  enum class member_use { skip, label, manifest };

  std::error_code begin(const tar_member& member) override;
  std::error_code data(std::span<const char> bytes) override;
  std::error_code end() override;

  tar_reader reader_;
  member_use use_ = member_use::skip;
  std::string captured_;  // the label, or the manifest's tail
  sha256 manifest_hash_;
  base_backup_positions found_;
  std::string problem_;
};

}  // namespace pgship::agent
