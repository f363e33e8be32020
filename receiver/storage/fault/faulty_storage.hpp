#pragma once
// A storage that fails on demand, for tests of what the routes, retention and the scrub answer
// when the store fails: wraps any storage and passes every call through, except the operations
// told to fail, which return the chosen error_code instead (without reaching the store).

#include <map>
#include <memory>
#include <mutex>

#include "storage/storage.hpp"

namespace pgship::receiver {

/// What a fault hits. `read` is object_reader::read on the readers open_range() gives.
enum class storage_op {
  commit,
  list,
  find,
  open_range,
  read,
  remove,
  put_manifest,
  get_manifest,
  quarantine,
  refresh,
};

/// Thread-safe, like every storage: faults may be set while the routes call it.
class faulty_storage final : public storage {
 public:
  explicit faulty_storage(std::unique_ptr<storage> inner);

  /// From now on `op` fails with `ec`: the next `times` calls, or every one (times < 0).
  void fail(storage_op op, std::error_code ec, int times = -1);
  /// `op` reaches the store again.
  void heal(storage_op op);
  /// Calls of `op` so far, failed or not.
  int calls(storage_op op) const;
  storage& inner() { return *inner_; }

  storage_capabilities capabilities() const override;
  std::unique_ptr<staged_upload> begin(const std::filesystem::path& spooled,
                                       const std::string& client,
                                       const std::string& file_name) override;
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
  std::string problem() const override;
  /// The inner store's, without faults (none are injected into the archive yet).
  wal_store* wal() override { return inner_->wal(); }

 private:
  class faulty_reader;

  result<commit_result> do_commit(commit_request request) override;
  result<backup_record> do_remove(const std::string& client, const std::string& id) override;
  std::error_code do_quarantine(const backup_record& record, const std::string& identity) override;
  /// The inner store refreshed, as it counts now.
  result<store_count> do_count() override;

  // Counts the call; the error it must fail with, if any.
  std::error_code check(storage_op op) const;

  struct fault {
    std::error_code ec;
    int left = -1;  // < 0: every call
  };
  std::unique_ptr<storage> inner_;
  mutable std::mutex mutex_;
  mutable std::map<storage_op, fault> faults_;
  mutable std::map<storage_op, int> calls_;
};

}  // namespace pgship::receiver
