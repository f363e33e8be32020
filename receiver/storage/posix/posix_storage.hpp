#pragma once
// Committed backups on disk: STORAGE_DIR/<client>/<database>/<name>.dump beside
// <name>.dump.sha256 (sha256sum -c format), <name>.json (the record) and, once the agent sent
// it, <name>.dump.manifest.json[.age] (the backup's manifest). Commit rule: the caller has
// fsynced the spool file; sidecars are written atomically first, then the dump is renamed into
// place and the directory synced, so a listed backup is never partial.

#include <mutex>

#include "storage/posix/posix_wal_store.hpp"
#include "storage/storage.hpp"

namespace pgship::receiver {

class posix_storage final : public storage {
 public:
  /// Scans what is stored and removes orphaned sidecars left by a crash. Throws
  /// std::system_error when the directory cannot be created or read.
  /// `sweep`: remove what a crash left (only where no server runs on `root` now: later a
  /// sidecar without its backup may be a commit on its way).
  explicit posix_storage(std::filesystem::path root, bool sweep = true);

  storage_capabilities capabilities() const override;
  result<std::vector<backup_record>> list(
      const std::string& client, const std::optional<std::string>& database) const override;
  result<std::optional<backup_record>> find(const std::string& client,
                                            const std::string& id) const override;
  result<std::unique_ptr<object_reader>> open_range(const backup_record& record,
                                                    std::uint64_t first,
                                                    std::uint64_t length) const override;
  /// Written atomically (temp file, fsync, rename, directory fsync) beside the dump.
  result<manifest_outcome> put_manifest(const backup_record& backup, const stored_manifest& m,
                                        bool may_replace) override;
  result<std::optional<stored_manifest>> get_manifest(const backup_record& backup) const override;
  /// STORAGE_DIR/.wal/, which scan() and list() never enter (a dot directory is no client).
  wal_store* wal() override { return &wal_; }

 private:
  result<commit_result> do_commit(commit_request request) override;
  result<backup_record> do_remove(const std::string& client, const std::string& id) override;
  /// Moves the dump and its sidecars (the manifest too) to .quarantine/<client>/<database>/.
  std::error_code do_quarantine(const backup_record& record, const std::string& identity) override;
  /// Counts the tree again (for a directory that another process writes too).
  result<store_count> do_count() override;

  std::filesystem::path path_of(const backup_record& record) const;
  std::optional<backup_record> find_unlocked(const std::string& client,
                                             const std::string& id) const;
  // Counts what is stored and in quarantine; `sweep` (at start) also removes what a crash left.
  result<store_count> scan(bool sweep) const;

  std::filesystem::path root_;
  mutable std::mutex mutex_;
  posix_wal_store wal_{root_};
};

}  // namespace pgship::receiver
