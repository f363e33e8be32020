#pragma once
// Committed backups in an S3-compatible bucket, for stateless receivers: all state is in the
// bucket, so replicas behind a load balancer see and serve the same backups.
//
//   <prefix><client>/<database>/<name>          the backup's bytes
//   <prefix><client>/<database>/<name>.sha256   sha256sum -c format
//   <prefix><client>/<database>/<name>.json     the record, written last: a backup exists
//                                               once its record does, and not before
//   <prefix><client>/<database>/<name>.manifest.json[.age]   the backup's manifest, put by
//                                               the agent after the commit (not a backup:
//                                               its name is no backup name + ".json")
//   <prefix>.quarantine/<client>/<database>/<name>.<unix time>.json   scrub findings
//   <prefix>.wal/<client>/<system>/...          the physical archive (s3_wal_store.hpp): never
//                                               listed, counted or scrubbed as backups
//
// Nothing is overwritten: a commit whose record exists is identical or a conflict. With
// S3_OBJECT_LOCK_DAYS every object carries a COMPLIANCE retention period. Records are
// immutable, so they are cached by key and ETag; usage() comes from the last full listing
// (refresh(), every few seconds) plus this replica's own commits and removals since
// (usage_ledger).

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "storage/s3/bucket.hpp"
#include "storage/s3/key_locks.hpp"
#include "storage/s3/s3_wal_store.hpp"
#include "storage/storage.hpp"

namespace pgship::receiver::s3 {

struct s3_settings {
  client_config client;
  std::string prefix;  // "" or ending in '/'
  std::optional<int> object_lock_days;
  std::filesystem::path spool_dir;  // where the multipart journals live
  /// Multipart uploads under the prefix older than this are aborted at start-up (whichever
  /// replica began them: no upload of ours lives that long).
  std::chrono::hours stale_upload_age{24 * 7};
  /// Abort the uploads a stopped receiver left at start-up (off beside a running one).
  bool abort_left_uploads = true;
};

class s3_storage final : public storage {
 public:
  /// Checks that the bucket answers (and has object lock when it must), aborts this replica's
  /// multipart uploads left by a crash, and reads the listing. Throws config_error when the
  /// store cannot work as configured.
  explicit s3_storage(s3_settings s);
  ~s3_storage() override;

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
  wal_store* wal() override { return &wal_; }

 private:
  result<commit_result> do_commit(commit_request request) override;
  result<backup_record> do_remove(const std::string& client, const std::string& id) override;
  std::error_code do_quarantine(const backup_record& record, const std::string& identity) override;
  /// Lists the bucket but the physical archive (every few seconds: other replicas write it).
  result<store_count> do_count() override;

  std::string data_key(const std::string& client, const std::string& database,
                       const std::string& id) const;
  header_list lock_headers() const;
  // A backup's record is its data key with this suffix, beside its bytes.
  static constexpr std::string_view record_suffix = ".json";
  // Puts the object; `etag` is what its ETag must be ("" when that cannot be known).
  std::error_code upload(const std::filesystem::path& spooled, const std::string& key,
                         const sha256_digest& digest, std::uint64_t size,
                         std::unique_ptr<staged_upload> staged, std::string& etag);

  void abort_stale_uploads();

  const s3_settings cfg_;
  mutable bucket bucket_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::pair<std::string, backup_record>> records_;  // key → ETag
  std::string problem_;  // why the last refresh failed
  key_locks writing_;    // one commit (or manifest put) of a name at a time in this receiver
  s3_wal_store wal_;
  boost::asio::thread_pool parts_{4};  // declared last: joined before the rest goes
};

}  // namespace pgship::receiver::s3
