#pragma once
// The physical archive in an S3 bucket, beside the backups (layout in storage/wal_store.hpp):
//
//   <prefix>.wal/<client>/<system>/meta.json              the system's meta (create-only)
//   <prefix>.wal/<client>/<system>/<segment24>/<unit>     stored bytes, with the unit's meta
//   <prefix>.wal/<client>/<system>/history/<tli>.history[.zst][.age]    as x-amz-meta-* headers
//   <prefix>.wal/<client>/<system>/basebackups/<id>.json   a completion mark (clear JSON)
//
// One object per file, no sidecar: its metadata travels with it, so a listed unit always has
// its meta. A put is create-only by stem: the stem's codec variants are looked up (HEAD) under
// a per-stem lock of this receiver, then the object is PUT with If-None-Match: * where the
// engine takes it (Swift's s3api answers 501, found out on the first put; Ceph RGW 16 takes
// it, but in a versioned bucket, as object lock makes it, was seen to write anyway). Without
// it, two replicas racing on one stem may both write: the agent sent each the same WAL, so the
// loser's object holds another encryption of the same plaintext, which is harmless. The engine's
// 2xx to the PUT, signed with the stored bytes' SHA-256 (the engine checks it), is the durability
// point. Objects are never rewritten, so the meta read by HEAD is cached by key and ETag.

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "storage/s3/bucket.hpp"
#include "storage/s3/key_locks.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver::s3 {

class s3_wal_store final : public wal_store {
 public:
  /// `prefix` is the store's S3_PREFIX ("" or ending in '/'); `b` outlives this.
  s3_wal_store(bucket& b, std::string prefix);

  result<wal_system_meta> claim_system(const wal_key& key, std::uint64_t segment_size) override;
  result<std::optional<wal_system_meta>> system_meta(const wal_key& key) const override;
  result<wal_put_result> put(wal_put_request request) override;
  result<std::vector<wal_stored_file>> list_dir(const wal_key& key,
                                                std::string_view dir) const override;
  result<std::vector<std::string>> list_names(const wal_key& key) const override;
  result<std::optional<wal_stored_file>> find(const wal_key& key,
                                              const wal_file_name& name) const override;
  /// `<system>/basebackups/<id>.json`, create-only under the id's lock (If-None-Match: *
  /// where the engine takes it).
  result<wal_put_outcome> put_basebackup_mark(const wal_key& key,
                                              const wire::wal::basebackup_mark& mark) override;
  result<std::vector<wire::wal::basebackup_mark>> list_basebackup_marks(
      const wal_key& key) const override;
  result<std::unique_ptr<object_reader>> open_range(const wal_key& key, const wal_file_name& name,
                                                    std::uint64_t first,
                                                    std::uint64_t length) const override;
  /// Counted by one listing of `<prefix>.wal/` when first asked (the bucket may hold another
  /// replica's WAL from before this receiver started), then kept current by put(). Another
  /// replica's puts since then show after a restart.
  std::map<std::string, std::uint64_t> usage() const override;
  void recount() override;
  result<std::vector<std::string>> list_systems(const std::string& client) const override;
  result<std::vector<std::string>> list_segments(const wal_key& key) const override;
  std::error_code remove_segment(const wal_key& key, std::string_view segment) override;
  std::error_code remove_gap(const wal_key& key, const wire::wal::gap_record& gap) override;
  std::error_code remove_basebackup_mark(const wal_key& key, std::string_view backup_id) override;
  /// One object per gap under `<system>/gaps/`: HEAD then PUT under the name's lock (an equal
  /// record from another replica in between is the same gap).
  result<wal_put_outcome> put_gap(const wal_key& key, const wire::wal::gap_record& gap) override;
  result<std::vector<wire::wal::gap_record>> list_gaps(const wal_key& key) const override;
  result<std::uint64_t> count_gaps(const std::string& client) const override;

  /// Where every archive key starts: `<prefix>.wal/` (the backups' listing skips it).
  static std::string root(const std::string& prefix) { return prefix + ".wal/"; }

 private:
  /// `<prefix>.wal/<client>/<system>/`; nullopt for unsafe names.
  std::optional<std::string> system_prefix(const wal_key& key) const;
  /// The stored file at `object_key` (named `file`), by HEAD or from the cache.
  result<std::optional<wal_stored_file>> head_file(const std::string& object_key,
                                                   const std::string& file,
                                                   const std::string& listed_etag = {}) const;
  /// PUT of the spool file, create-only where the engine can; EEXIST when the key was taken.
  std::error_code upload(const wal_put_request& request, const std::string& object_key);

  bucket& bucket_;
  const std::string prefix_;
  key_locks stems_;                          // one put of a stem at a time in this receiver
  std::atomic<bool> conditional_put_{true};  // until the engine answers 501 to one
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::pair<std::string, wal_unit_meta>> metas_;  // key → ETag
  mutable std::optional<std::map<std::string, std::uint64_t>> usage_;           // client → bytes
};

}  // namespace pgship::receiver::s3
