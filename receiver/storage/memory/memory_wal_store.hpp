#pragma once
// The physical archive in memory, for tests: the contract of posix_wal_store without a disk.
// put() reads the spool file and deletes it, as a store that copies the bytes away does.

#include <map>
#include <mutex>

#include "storage/wal_store.hpp"

namespace pgship::receiver {

class memory_wal_store final : public wal_store {
 public:
  result<wal_system_meta> claim_system(const wal_key& key, std::uint64_t segment_size) override;
  result<std::optional<wal_system_meta>> system_meta(const wal_key& key) const override;
  result<wal_put_result> put(wal_put_request request) override;
  result<std::vector<wal_stored_file>> list_dir(const wal_key& key,
                                                std::string_view dir) const override;
  result<std::vector<std::string>> list_names(const wal_key& key) const override;
  result<std::optional<wal_stored_file>> find(const wal_key& key,
                                              const wal_file_name& name) const override;
  result<wal_put_outcome> put_gap(const wal_key& key, const wire::wal::gap_record& gap) override;
  result<std::vector<wire::wal::gap_record>> list_gaps(const wal_key& key) const override;
  result<std::uint64_t> count_gaps(const std::string& client) const override;
  result<wal_put_outcome> put_basebackup_mark(const wal_key& key,
                                              const wire::wal::basebackup_mark& mark) override;
  result<std::vector<wire::wal::basebackup_mark>> list_basebackup_marks(
      const wal_key& key) const override;
  result<std::vector<std::string>> systems(const std::string& client) const override;
  result<std::vector<std::string>> list_segments(const wal_key& key) const override;
  std::error_code remove_segment(const wal_key& key, std::string_view segment) override;
  std::error_code remove_gap(const wal_key& key, const wire::wal::gap_record& gap) override;
  std::error_code remove_basebackup_mark(const wal_key& key, std::string_view backup_id) override;
  result<std::unique_ptr<object_reader>> open_range(const wal_key& key, const wal_file_name& name,
                                                    std::uint64_t first,
                                                    std::uint64_t length) const override;
  std::map<std::string, std::uint64_t> usage() const override;

 private:
  struct kept_file {
    wal_unit_meta meta;
    std::shared_ptr<const std::string> bytes;  // a reader keeps them
  };
  struct kept_system {
    wal_system_meta meta;
    // By directory, then by file name.
    std::map<std::string, std::map<std::string, kept_file>, std::less<>> dirs;
  };
  // Gap records by client/system key, then by record name.
  std::map<std::string, std::map<std::string, wire::wal::gap_record>> gaps_;
  // Completion marks by client/system key, then by backup id.
  std::map<std::string, std::map<std::string, wire::wal::basebackup_mark>> marks_;
  static std::string key_of(const wal_key& key) { return key.client + '/' + key.system; }

  mutable std::mutex mutex_;
  std::map<std::string, kept_system> systems_;
  std::map<std::string, std::uint64_t> usage_;
};

}  // namespace pgship::receiver
