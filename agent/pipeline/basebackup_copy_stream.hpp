#pragma once
// What the BASE_BACKUP replication command (PostgreSQL 15's option list) sends, made into the
// one tar `pg_basebackup -Ft -D -` writes. Inside its single COPY OUT every message starts with
// a type byte: 'n' a new archive (name, tablespace path), 'd' data of the archive or of the
// manifest, 'p' progress, 'm' the manifest follows. The server ends the base archive with the
// two zero blocks of end-of-archive; the manifest is made the archive's last member,
// `backup_manifest`, before them, so one file holds a backup pg_verifybackup checks. The
// manifest is held in memory until it is whole (its tar header needs its size), as
// pg_basebackup holds it: a few hundred bytes per file of the cluster.

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <pgship/common/io/sink.hpp>

namespace pgship::agent {

/// BASE_BACKUP with `label`: a fast checkpoint, a manifest with SHA-256 file checksums, and
/// no wait for the server's own WAL archiving (pgship waits for its archive instead).
std::string base_backup_command(std::string_view label);

/// A 512-byte ustar header of a regular file (mode 0600) named `name`.
std::string tar_file_header(std::string_view name, std::uint64_t size, std::time_t mtime);

class basebackup_copy_stream {
 public:
  /// The tar goes to `out`.
  explicit basebackup_copy_stream(io::sink& out) : out_(out) {}

  /// One COPY message. An error from `out` is returned as it is; a stream PostgreSQL does not
  /// send (a second archive, data before an archive, an unknown type) is
  /// errc::protocol_error with problem() saying which.
  std::error_code take(std::span<const char> message);
  /// After the COPY ended: the manifest member and end-of-archive. errc::protocol_error when
  /// the archive did not end with its zero blocks or no manifest came.
  std::error_code finish();

  const std::string& problem() const { return problem_; }
  /// The archive's name as the server sent it ("base.tar").
  const std::string& archive_name() const { return archive_; }

 private:
  // The server's end-of-archive: two zero blocks, held back until the archive is over.
  static constexpr std::size_t trailer = 1024;
  static constexpr std::size_t manifest_limit = 1024 * 1024 * 1024;

  enum class part { none, archive, manifest };

  std::error_code refuse(std::string why);
  std::error_code archive_data(std::span<const char> data);

  io::sink& out_;
  part part_ = part::none;
  std::string archive_;
  std::string held_;  // the archive's last bytes (at most `trailer` of them)
  std::string manifest_;
  bool had_manifest_ = false;
  std::string problem_;
};

}  // namespace pgship::agent
