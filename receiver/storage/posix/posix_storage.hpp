#pragma once
// Committed backups on disk: STORAGE_DIR/<client>/<database>/<name>.dump beside
// <name>.dump.sha256 (sha256sum -c format), <name>.json (the record) and, once the agent sent
// it, <name>.dump.manifest.json[.age] (the backup's manifest). Commit rule: the caller has
// fsynced the spool file; sidecars are written atomically first, then the dump is renamed into
// place and the directory synced, so a listed backup is never partial.

#include <mutex>

#include "storage/storage.hpp"

namespace pgship::receiver {

class posix_storage final : public storage {
 public:
  /// Scans what is stored and removes orphaned sidecars left by a crash. Throws
  /// std::system_error when the directory cannot be created or read.
  explicit posix_storage(std::filesystem::path root);

  storage_capabilities capabilities() const override;
  std::error_code commit(const std::filesystem::path& spooled, const std::string& client,
                         const std::string& file_name, const sha256_digest& digest,
                         std::uint64_t size, std::unique_ptr<staged_upload> staged,
                         commit_outcome& outcome, backup_record& record) override;
  std::error_code list(const std::string& client, const std::optional<std::string>& database,
                       std::vector<backup_record>& out) const override;
  std::error_code find(const std::string& client, const std::string& id,
                       std::optional<backup_record>& out) const override;
  std::error_code open_range(const backup_record& record, std::uint64_t first, std::uint64_t length,
                             std::unique_ptr<object_reader>& out) const override;
  std::error_code remove(const std::string& client, const std::string& id) override;
  /// Written atomically (temp file, fsync, rename, directory fsync) beside the dump.
  manifest_put_result put_manifest(const backup_record& backup, const stored_manifest& m,
                                   bool may_replace) override;
  manifest_get_result get_manifest(const backup_record& backup) const override;
  /// Moves the dump and its sidecars (the manifest too) to .quarantine/<client>/<database>/.
  std::error_code quarantine(const backup_record& record, const std::string& identity) override;
  std::size_t quarantined() const override;
  usage_map usage() const override;
  /// Counts the tree again (for a directory that another process writes too).
  std::error_code refresh() override;

 private:
  std::filesystem::path path_of(const backup_record& record) const;
  std::optional<backup_record> find_unlocked(const std::string& client,
                                             const std::string& id) const;
  // Counts what is stored; `sweep` (at start) also removes what a crash left.
  void scan(bool sweep);

  std::filesystem::path root_;
  mutable std::mutex mutex_;
  usage_map usage_;
};

}  // namespace pgship::receiver
