#pragma once
// The physical archive on disk under STORAGE_DIR/.wal/ (layout in storage/wal_store.hpp). A
// file counts as stored once its data file is in place: the sidecar is written atomically
// first, then the spool file is renamed beside it and the directory synced, so a listed unit
// is never partial; a sidecar whose data never arrived (a crash between the renames) is
// ignored and overwritten by the next put of that name. `.wal/` starts with a dot, so the
// backup scan and listing never see it.

#include <map>
#include <mutex>

#include "storage/wal_store.hpp"

namespace pgship::receiver {

class posix_wal_store final : public wal_store {
 public:
  /// `storage_dir` is STORAGE_DIR (the archive lives in its `.wal/`, created on first put).
  explicit posix_wal_store(std::filesystem::path storage_dir);

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
  void recount() override;

 private:
  // Every stored file's size per client, from a walk of `.wal/` (at construction).
  std::map<std::string, std::uint64_t> count_usage() const;
  /// `.wal/<client>/<system>` relative to the storage dir; nullopt for unsafe names.
  std::optional<std::filesystem::path> system_relative(const wal_key& key) const;
  result<std::optional<wal_system_meta>> read_meta(const std::filesystem::path& system_dir) const;
  // Deletes one record file (a gap, a mark) of the system's `dir`, durably.
  std::error_code remove_record(const wal_key& key, std::string_view dir, const std::string& file);
  std::optional<wal_stored_file> read_file(const std::filesystem::path& dir,
                                           const std::string& name) const;

  std::filesystem::path root_;
  // Puts one at a time: the existence check by stem and the rename must not interleave.
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> usage_;  // under mutex_
};

}  // namespace pgship::receiver
