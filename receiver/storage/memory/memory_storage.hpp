#pragma once
// Backups in memory, for tests: the contract of the POSIX tree and of S3 (the contract suite
// runs on it too) without a disk or a network. Instances made on one memory_bucket see the same
// backups, as replicas or a restart see one store. commit() reads the spool file, refuses bytes
// that do not match the digest (as an S3 engine does) and deletes it; nothing is staged.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/memory/memory_wal_store.hpp"
#include "storage/storage.hpp"

namespace pgship::receiver {

/// The stored backups, their manifests and the quarantine, shared by the instances on them.
/// Thread-safe.
class memory_bucket {
 public:
  /// What is stored for `client`'s `database`, by name: each backup and each manifest.
  std::vector<std::string> names(const std::string& client, const std::string& database) const;

 private:
  friend class memory_storage;
  struct object {
    backup_record record;
    std::shared_ptr<const std::string> bytes;  // a reader keeps them after a removal
    std::string identity;                      // this object, not another one of the name
    std::optional<stored_manifest> manifest;
  };
  static std::string key(const std::string& client, const std::string& id);

  mutable std::mutex mutex_;
  std::map<std::string, object> backups_;  // by key(): ids are unique per client
  std::vector<object> quarantine_;
  std::uint64_t serial_ = 0;  // makes identities
  memory_wal_store wal_;      // thread-safe on its own
};

class memory_storage final : public storage {
 public:
  /// An instance on `bucket` (a new, empty one by default).
  explicit memory_storage(
      std::shared_ptr<memory_bucket> bucket = std::make_shared<memory_bucket>());

  /// For another instance on the same store.
  const std::shared_ptr<memory_bucket>& bucket() const { return bucket_; }

  storage_capabilities capabilities() const override;
  result<std::vector<backup_record>> list(
      const std::string& client, const std::optional<std::string>& database) const override;
  result<std::optional<backup_record>> find(const std::string& client,
                                            const std::string& id) const override;
  result<std::unique_ptr<object_reader>> open_range(const backup_record& record,
                                                    std::uint64_t first,
                                                    std::uint64_t length) const override;
  result<manifest_outcome> put_manifest(const backup_record& backup, const stored_manifest& m,
                                        bool may_replace) override;
  result<std::optional<stored_manifest>> get_manifest(const backup_record& backup) const override;
  wal_store* wal() override { return &bucket_->wal_; }

 private:
  result<commit_result> do_commit(commit_request request) override;
  result<backup_record> do_remove(const std::string& client, const std::string& id) override;
  std::error_code do_quarantine(const backup_record& record, const std::string& identity) override;
  result<store_count> do_count() override;

  std::shared_ptr<memory_bucket> bucket_;
};

}  // namespace pgship::receiver
