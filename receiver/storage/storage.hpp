#pragma once
// Where committed backups live, restic-style: one interface with a POSIX directory tree
// (posix_storage) and an S3-compatible bucket (s3::s3_storage) behind it. Uploads arrive in
// the local spool first (spool.hpp); commit() makes a backup visible all at once, and only
// once its stored bytes are known to be the ones hashed on arrival. Implementations are
// thread-safe and blocking: the routes call them on the storage threads
// (receiver_context::on_storage_thread), the scrub on its own.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <pgship/common/sha256.hpp>

#include "storage/backup_record.hpp"

namespace pgship::receiver {

struct storage_capabilities {
  std::string backend;         // "fs" or "s3"
  bool shared = false;         // other receivers may write the same store
  bool object_lock = false;    // objects carry a retention period nobody can shorten
  bool streams_parts = false;  // begin() ships bytes while they still arrive
  /// The spool file itself becomes the stored backup, so it must be on disk before commit()
  /// (POSIX). An S3 store copies it away and deletes it: flushing it would be wasted I/O.
  bool keeps_spool_file = false;
};

/// Stored bytes and backup count per client.
using usage_map = std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>;

/// A backup's manifest as the agent uploaded it: `name` is `<id>.manifest.json` or
/// `<id>.manifest.json.age` (manifest_name.hpp); the bytes are opaque (maybe ciphertext).
struct stored_manifest {
  std::string name;
  std::string bytes;
};

enum class manifest_outcome {
  created,    // the backup had no manifest
  identical,  // the same name and bytes were stored already: nothing changed
  replaced,   // another manifest of the backup (other bytes, or the other name) was replaced
  refused,    // another manifest is stored and `may_replace` was false: nothing changed
};

struct manifest_put_result {
  std::error_code error;  // ENOENT: the backup is not stored (any more)
  manifest_outcome outcome = manifest_outcome::created;
};

struct manifest_get_result {
  std::error_code error;
  std::optional<stored_manifest> manifest;  // nullopt: the backup has none
};

/// Reads bytes [first, first + length) of one stored backup.
class object_reader {
 public:
  virtual ~object_reader() = default;
  /// Up to buf.size() bytes; `got` = 0 at the end of the range. An error when the store fails
  /// or holds fewer bytes than the range.
  virtual std::error_code read(std::span<char> buf, std::size_t& got) = 0;
  /// The stored object being read (inode, ETag): quarantine() acts only on that one.
  virtual std::string identity() const = 0;
};

/// An upload's bytes going to the store while they still arrive, read back from the spool file
/// (S3: the parts of a multipart upload). Destroyed without a commit it is abandoned and
/// leaves nothing behind.
class staged_upload {
 public:
  virtual ~staged_upload() = default;
  /// The spool file now holds `size` bytes that will not change. Never blocks.
  virtual void grew(std::uint64_t size) = 0;
  /// Instead of grew(): every byte of the upload, in order, once it is in the spool file, from
  /// one thread at a time. The parts are then hashed from these bytes, not read back to be
  /// hashed. Never blocks.
  virtual void arrived(std::string_view bytes) = 0;
};

class storage {
 public:
  virtual ~storage() = default;
  virtual storage_capabilities capabilities() const = 0;

  /// Starts shipping the spool file `spooled` (still being written) for `client`'s backup
  /// `file_name`; nullptr when this store takes the bytes only at commit.
  virtual std::unique_ptr<staged_upload> begin(const std::filesystem::path& spooled,
                                               const std::string& client,
                                               const std::string& file_name);

  /// Stores the complete, fsynced spool file `spooled` (`size` bytes with SHA-256 `digest`) as
  /// `client`'s backup `file_name`, through `staged` when begin() gave one. On success the
  /// spool file is gone whatever the outcome; on error it is left for the caller, and nothing
  /// is visible.
  virtual std::error_code commit(const std::filesystem::path& spooled, const std::string& client,
                                 const std::string& file_name, const sha256_digest& digest,
                                 std::uint64_t size, std::unique_ptr<staged_upload> staged,
                                 commit_outcome& outcome, backup_record& record) = 0;

  /// The client's backups (of one database), newest first.
  virtual std::error_code list(const std::string& client,
                               const std::optional<std::string>& database,
                               std::vector<backup_record>& out) const = 0;
  /// `out` is nullopt when there is no such backup.
  virtual std::error_code find(const std::string& client, const std::string& id,
                               std::optional<backup_record>& out) const = 0;
  /// ENOENT when the backup is gone.
  virtual std::error_code open_range(const backup_record& record, std::uint64_t first,
                                     std::uint64_t length,
                                     std::unique_ptr<object_reader>& out) const = 0;
  /// Deletes a backup, its record first (so it leaves every list at once), and its manifest.
  /// ENOENT when there is no such backup.
  virtual std::error_code remove(const std::string& client, const std::string& id) = 0;

  /// Stores `m` beside `backup` (a record find() gave): never listed, counted or scrubbed as a
  /// backup, and deleted with it by remove(). The backup keeps one manifest: another one is
  /// replaced when `may_replace`, else refused.
  virtual manifest_put_result put_manifest(const backup_record& backup, const stored_manifest& m,
                                           bool may_replace) = 0;
  /// The manifest stored beside `backup`.
  virtual manifest_get_result get_manifest(const backup_record& backup) const = 0;

  /// Takes a backup whose stored bytes no longer match its sha256 out of the list, retention
  /// and usage, keeping the bytes for a person to look at. ENOENT when the object `identity`
  /// names (see object_reader) is no longer the one stored as `record` says.
  virtual std::error_code quarantine(const backup_record& record, const std::string& identity) = 0;
  /// Backups in quarantine.
  virtual std::size_t quarantined() const = 0;

  /// Per client, kept current by commit() and remove(); what other writers changed appears
  /// after refresh(). Never blocks on the network.
  virtual usage_map usage() const = 0;
  /// Re-reads what other writers of a shared store changed.
  virtual std::error_code refresh();
  /// Why the store cannot serve right now (the last refresh failed), for /health; "" when fine.
  virtual std::string problem() const;
};

}  // namespace pgship::receiver
