#pragma once
// The one place a new backup's manifest is filled in: its head when the backup is named
// (who, what, when, how it is stored, whether it waits for the receiver), and what its stored
// bytes turned out to be once they were checked. What only one kind of backup learns (a
// dump's row counts and extensions, the globals' roles) its stage adds.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "repository/manifest.hpp"

namespace pgship::agent {

/// What a new manifest starts from.
struct manifest_start {
  std::string name;
  std::string database;
  std::string kind;  // "globals", or empty for a database's dump or an archive
  std::string run_id;
  std::string agent_host;  // empty for an adopted backup: where it was made is not known
  std::chrono::system_clock::time_point started;
  std::string compression = "pg_dump";  // COMPRESSION, or zstd/none for an archive
  int compress_level = 6;               // -1: unknown (adopted)
  std::string pg_dump_version;          // pg_dumpall's for the globals
  std::string server_version;
  std::uint64_t database_size = 0;
  bool adopted = false;
  /// UPLOAD=on: the receiver it waits for (BACKUP_API_URL, redacted), its upload pending;
  /// nullopt (UPLOAD=off): its upload skipped.
  std::optional<std::string> receiver;
};

manifest new_manifest(const manifest_start& start);

/// The stored bytes, once checked.
struct stored_bytes {
  std::uint64_t size = 0;
  std::string sha256;
  /// Of the pg_dump archive (or tar, or script) the agent compressed or encrypted; empty when
  /// the stored bytes are it.
  std::string plaintext_sha256;
  std::uint64_t plaintext_size = 0;
  std::vector<std::string> recipients;  // age1…, when encrypted
};

/// `m`'s bytes are stored and were checked at `finished`.
void record_stored(manifest& m, const stored_bytes& bytes,
                   std::chrono::system_clock::time_point finished);

}  // namespace pgship::agent
