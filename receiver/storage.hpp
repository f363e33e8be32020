#pragma once
// Committed backups on disk: STORAGE_DIR/<client>/<database>/<name>.dump beside
// <name>.dump.sha256 (sha256sum -c format) and <name>.json (the record), and in-progress bytes
// in STORAGE_DIR/.incoming/. Commit rule: the caller has fsynced the incoming file; sidecars
// are written atomically first, then the dump is renamed into place and the directory synced,
// so a listed backup is never partial. Thread-safe.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <sys/types.h>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/sha256.hpp>

namespace pgship::receiver {

struct backup_record {
  std::string id;  // the file name, <database>-<YYYYMMDD>-<HHMMSS>.dump
  std::string client;
  std::string database;
  std::uint64_t size = 0;
  std::string sha256;  // lowercase hex
  std::chrono::system_clock::time_point taken;
  std::chrono::system_clock::time_point uploaded;
};

/// The record as the API returns it (one JSON object).
std::string to_json(const backup_record& record);
std::string to_json(const std::vector<backup_record>& records);

enum class commit_outcome {
  created,    // new backup stored
  identical,  // same name and same hash already stored: nothing changed (retry-safe)
  conflict,   // same name, different hash: refused, nothing changed
};

class storage {
 public:
  /// Creates the directories if needed and scans what is stored. Removes single-upload debris
  /// and orphaned sidecars left by a crash. Throws std::system_error when the directory cannot
  /// be created or read (start-up misconfiguration).
  explicit storage(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path incoming_dir() const { return root_ / ".incoming"; }
  /// A fresh, unused path in .incoming/ named `<prefix>-<random>.part`.
  std::filesystem::path new_incoming_path(std::string_view prefix) const;

  /// Moves a complete, fsynced incoming file into place as `name` for `client`. On success the
  /// incoming file is gone whatever the outcome; on error it is left for the caller to remove.
  std::error_code commit(const std::filesystem::path& incoming, const std::string& client,
                         const std::string& file_name, const sha256_digest& digest,
                         std::uint64_t size, commit_outcome& outcome, backup_record& record);

  /// The client's backups, newest first (by backup timestamp, then name).
  std::vector<backup_record> list(const std::string& client,
                                  const std::optional<std::string>& database = std::nullopt) const;
  std::optional<backup_record> find(const std::string& client, const std::string& id) const;
  std::filesystem::path path_of(const backup_record& record) const;
  /// Deletes a backup and its sidecars. ENOENT when there is no such backup.
  std::error_code remove(const std::string& client, const std::string& id);
  /// Moves a backup whose stored bytes no longer match its sha256 (dump and sidecars) to
  /// .quarantine/<client>/<database>/: it leaves the list, retention and the client's usage,
  /// and stays for a person to look at. ENOENT when that backup is no longer stored as
  /// `record` says (removed, or replaced by another upload of the name).
  /// `dev`/`ino`: the file that was read; another one under that name is not touched.
  std::error_code quarantine(const backup_record& record, dev_t dev, ino_t ino);
  std::filesystem::path quarantine_dir() const { return root_ / ".quarantine"; }
  /// Backups in .quarantine/.
  std::size_t quarantined() const;

  /// Stored bytes and backup count per client, kept current by commit() and remove().
  std::uint64_t client_bytes(const std::string& client) const;

  /// Holds `bytes` for an upload still arriving (`key`: its incoming file or tus id) so that
  /// uploads running at the same time cannot together take `client` over `quota`: false (and
  /// nothing held) when the client's stored bytes plus all it holds would exceed it. Holding
  /// again under a key raises its amount, never lowers it. Checked under the commit lock: a
  /// commit counts its bytes before its upload releases the hold, never after.
  bool hold(const std::string& key, const std::string& client, std::uint64_t bytes,
            std::optional<std::uint64_t> quota);
  /// Ends the hold under `key` (no-op when there is none).
  void release(const std::string& key);
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> usage() const;  // bytes, count

  /// Free bytes on the file system holding the storage; nullopt if statvfs fails.
  std::optional<std::uint64_t> free_bytes() const;
  /// Whether a file can be created in .incoming/ right now.
  bool writable() const;

 private:
  std::optional<backup_record> read_record(const std::filesystem::path& dump) const;
  void scan();

  std::filesystem::path root_;
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> usage_;
  struct held_bytes {
    std::string client;
    std::uint64_t bytes = 0;
  };
  std::map<std::string, held_bytes> held_;  // by upload key
};

}  // namespace pgship::receiver
