#pragma once
// Where committed backups live, restic-style: one interface with a POSIX directory tree
// (posix_storage), an S3-compatible bucket (s3::s3_storage) and, for tests, memory
// (memory_storage) behind it; faulty_storage wraps any of them to fail on demand. Uploads
// arrive in the local spool first (spool.hpp); commit() makes a backup visible all at once, and
// only once its stored bytes are known to be the ones hashed on arrival. Operations return
// their result (a value or an error_code), never through out-parameters. Usage and quarantine
// are counted here (usage_ledger), the same way for every backend: a backend implements the
// private do_* operations and reports facts. Implementations are thread-safe and blocking: the
// routes call them on the storage threads (receiver_context::on_storage_thread), the scrub on
// its own.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/system/result.hpp>

#include <pgship/common/manifest_name.hpp>
#include <pgship/common/sha256.hpp>

#include "storage/backup_record.hpp"
#include "storage/usage_ledger.hpp"

namespace pgship::receiver {

class wal_store;

/// A value, or the error_code that says why there is none.
template <class T>
using result = boost::system::result<T, std::error_code>;

struct storage_capabilities {
  std::string backend;         // "fs", "s3" or "memory"
  bool shared = false;         // other receivers may write the same store
  bool object_lock = false;    // objects carry a retention period nobody can shorten
  bool streams_parts = false;  // begin() ships bytes while they still arrive
  /// The spool file itself becomes the stored backup, so it must be on disk before commit()
  /// (POSIX), and its bytes are trusted as hashed while they were written. A store that copies
  /// it away (S3, memory) deletes it, so flushing it would be wasted I/O, and refuses a copy
  /// whose bytes do not match the digest.
  bool keeps_spool_file = false;
  /// An upload under way holds something in the store itself, outside the spool (S3: an open
  /// multipart upload), which an abandoned upload or a restart must clean up.
  bool stages_outside_spool = false;
};

/// A backup's manifest as the agent uploaded it: `name` is `<id>.manifest.json` or
/// `<id>.manifest.json.age` (manifest_name.hpp); the bytes are opaque (maybe ciphertext).
struct stored_manifest {
  std::string name;
  std::string bytes;
};

/// The name of `m` when it may be stored beside `backup`: one of the backup's two manifest
/// names, beside safe client and database names (else put_manifest() answers EINVAL).
std::optional<manifest_name> manifest_name_beside(const backup_record& backup,
                                                  const stored_manifest& m);
/// Whether a manifest of `backup` can be looked up at all (safe names; else there is none).
bool may_hold_manifest(const backup_record& backup);

enum class manifest_outcome {
  created,    // the backup had no manifest
  identical,  // the same name and bytes were stored already: nothing changed
  replaced,   // another manifest of the backup (other bytes, or the other name) was replaced
  refused,    // another manifest is stored and `may_replace` was false: nothing changed
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

/// A complete upload to store: the fsynced spool file `spooled` (`size` bytes with SHA-256
/// `digest`) as `client`'s backup `file_name`, through `staged` when begin() gave one.
struct commit_request {
  std::filesystem::path spooled;
  std::string client;
  std::string file_name;
  sha256_digest digest{};
  std::uint64_t size = 0;
  std::unique_ptr<staged_upload> staged;
};

/// What a commit did, and the record of the backup now stored under the name (for identical and
/// conflict, the one that was there).
struct commit_result {
  commit_outcome outcome = commit_outcome::created;
  backup_record record;
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

  /// Stores the upload. On success the spool file is gone whatever the outcome; on error it is
  /// left for the caller, and nothing is visible.
  result<commit_result> commit(commit_request request);

  /// The client's backups (of one database), newest first.
  virtual result<std::vector<backup_record>> list(
      const std::string& client, const std::optional<std::string>& database) const = 0;
  /// nullopt when there is no such backup.
  virtual result<std::optional<backup_record>> find(const std::string& client,
                                                    const std::string& id) const = 0;
  /// ENOENT when the backup is gone.
  virtual result<std::unique_ptr<object_reader>> open_range(const backup_record& record,
                                                            std::uint64_t first,
                                                            std::uint64_t length) const = 0;
  /// Deletes a backup, its record first (so it leaves every list at once), and its manifest.
  /// ENOENT when there is no such backup.
  std::error_code remove(const std::string& client, const std::string& id);

  /// Stores `m` beside `backup` (a record find() gave): never listed, counted or scrubbed as a
  /// backup, and deleted with it by remove(). The backup keeps one manifest: another one is
  /// replaced when `may_replace`, else refused. ENOENT: the backup is not stored (any more).
  virtual result<manifest_outcome> put_manifest(const backup_record& backup,
                                                const stored_manifest& m, bool may_replace) = 0;
  /// The manifest stored beside `backup`; nullopt when it has none.
  virtual result<std::optional<stored_manifest>> get_manifest(
      const backup_record& backup) const = 0;

  /// Takes a backup whose stored bytes no longer match its sha256 out of the list, retention
  /// and usage, keeping the bytes for a person to look at. ENOENT when the object `identity`
  /// names (see object_reader) is no longer the one stored as `record` says.
  std::error_code quarantine(const backup_record& record, const std::string& identity);
  /// Backups in quarantine: as the last refresh() counted them, plus this instance's since.
  std::size_t quarantined() const;

  /// Per client, kept current by commit(), remove() and quarantine(); what other writers
  /// changed appears after refresh(). Never blocks.
  usage_map usage() const;
  /// Counts the whole store again (what other writers of a shared store changed, too).
  std::error_code refresh();
  /// Why the store cannot serve right now (the last refresh failed), for /health; "" when fine.
  virtual std::string problem() const;

  /// The physical archive (storage/wal_store.hpp) kept beside the backups; nullptr when this
  /// backend keeps none (the WAL routes answer 501). Never counted in usage() or listed as
  /// backups.
  virtual wal_store* wal();

 protected:
  /// A backend's constructor reports what it found when it first counted its store (without
  /// refresh(): a constructor may count while it sweeps).
  void counted(store_count found);

 private:
  // What a backend does; the public operations count what it reports.
  virtual result<commit_result> do_commit(commit_request request) = 0;
  /// The removed backup's record.
  virtual result<backup_record> do_remove(const std::string& client, const std::string& id) = 0;
  virtual std::error_code do_quarantine(const backup_record& record,
                                        const std::string& identity) = 0;
  /// Counts every backup and every quarantined one the store holds.
  virtual result<store_count> do_count() = 0;

  usage_ledger ledger_;
};

}  // namespace pgship::receiver
