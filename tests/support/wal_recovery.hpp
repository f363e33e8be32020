#pragma once
// Recovering a fresh cluster with PostgreSQL alone from what a receiver holds, as the README's
// way out does: a tar base backup taken with pg_basebackup, recovery.signal, and
// deploy/pgship-restore-wal.sh (curl, age, zstd, truncate) as the restore_command. Shared by
// the recovery proof and the tests that hold the archive to the commits it acknowledged.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <sys/types.h>

#include "pg_cluster.hpp"

namespace pgship::test {

/// A temporary directory every user can read: the recovered cluster's restore_command runs as
/// the postgres user when the tests run as root.
class shared_dir {
 public:
  shared_dir();
  ~shared_dir();
  shared_dir(const shared_dir&) = delete;
  shared_dir& operator=(const shared_dir&) = delete;

  /// Writes `content` to `name` in the directory with `mode`; returns its path.
  std::filesystem::path put(const std::string& name, const std::string& content,
                            mode_t mode = 0644);
  /// A directory `name` in it that every user may write (a restore_command's spool).
  std::filesystem::path writable_dir(const std::string& name);

 private:
  std::filesystem::path path_;
};

/// `pg_basebackup -Ft -X none -c fast` of `server` into `dir`; returns the path of base.tar.
/// Throws with the tool's output on failure.
std::filesystem::path take_tar_base_backup(const pg_cluster& server,
                                           const std::filesystem::path& dir);

/// Where the archive is and how to read it.
struct wal_archive_access {
  std::string receiver_url;
  std::string system_id;
  std::string token;     // a token with the read scope
  std::string identity;  // the age identity file's content; empty for a clear archive
};

/// A cluster started from a tar base backup that recovers from the receiver to the end of its
/// archive and is promoted.
class wal_recovery {
 public:
  /// Starts the copy; `password` is the source's superuser password (the copy's roles are its).
  wal_recovery(const std::filesystem::path& base_tar, const wal_archive_access& archive,
               const std::string& password);
  /// The same with `restore_command` as it stands (pgship-agent wal-fetch ...).
  wal_recovery(const std::filesystem::path& base_tar, const std::string& restore_command,
               const std::string& password);

  /// A copy of a data directory that `pgship-agent restore --pitr` prepared (recovery.signal
  /// and its settings in it), started as it is.
  static std::unique_ptr<wal_recovery> of_prepared(const std::filesystem::path& dir,
                                                   const std::string& password);

  /// Whether recovery ended (the copy was promoted) within `limit`.
  bool wait_promoted(std::chrono::milliseconds limit);
  pg_cluster& cluster() { return *cluster_; }

 private:
  wal_recovery() = default;
  void start(const std::filesystem::path& base_tar, const std::string& restore_command,
             const std::string& password);

  shared_dir restore_dir_;
  std::unique_ptr<pg_cluster> cluster_;
};

}  // namespace pgship::test
