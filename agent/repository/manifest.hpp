#pragma once
// The files a local backup is made of: `<name>.dump` (or `.dump.zst`), `<file>.sha256`
// (sha256sum -c format) and `<name>.json`, the manifest (DESIGN.md "Backup naming and files"),
// which also records whether the backup reached the receiver: rotation must never drop one that did
// not.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace pgship::agent {

enum class upload_state { pending, uploaded, failed, skipped };

std::string_view to_string(upload_state s);
/// Pending or failed: the backup is not on the receiver (yet); with UPLOAD=on it stays.
bool unshipped(upload_state s);

struct upload_record {
  upload_state state = upload_state::pending;
  std::string receiver;  // BACKUP_API_URL
  std::string finished;  // UTC, when uploaded
  std::uint64_t bytes_sent = 0;
  int retries = 0;
  int resumes = 0;
  std::string error;  // the last failure, when failed
  // When failed: the receiver's unfinished upload (its path), continued by the next attempt.
  std::string resume_at;
};

/// One table's rows as the dump holds them (ROW_COUNTS). `kind` is "table", "hypertable"
/// (counted at its root, so every chunk's rows once) or "continuous_aggregate" (counted
/// through its view). A count that failed keeps its reason in `error` and no rows.
struct table_rows {
  std::string schema;
  std::string name;
  std::uint64_t rows = 0;
  std::string kind = "table";
  std::string error;
};

/// An extension of the dumped database, at the version it was installed in.
struct extension_version {
  std::string name;
  std::string version;
};

/// What TimescaleDB kept in the dumped database (DESIGN: the `timescaledb` section).
struct timescaledb_facts {
  struct hypertable {
    std::string schema;
    std::string name;
    std::uint64_t chunks = 0;
    std::uint64_t compressed_chunks = 0;
  };
  struct job {
    std::int64_t id = 0;
    std::string proc;        // schema.name
    std::string hypertable;  // schema.name, or empty
    std::string schedule_interval;
    bool scheduled = true;
  };
  std::string version;
  std::vector<hypertable> hypertables;
  std::vector<job> jobs;
};

/// What a physical base backup's manifest says of it (kind "basebackup"): which cluster, and
/// the WAL it needs, from its start to its stop position on its timeline.
struct physical_facts {
  std::string system_identifier;  // decimal, as pg_control_system() gives it
  std::uint32_t timeline = 0;
  std::string start_lsn;  // "0/2000028"
  std::string stop_lsn;
  std::string start_time;  // backup_label's START TIME
  std::uint64_t segment_size = 0;
  std::string backup_manifest_sha256;  // PostgreSQL's backup_manifest inside the tar
};

struct manifest {
  std::string name;  // <database>-<YYYYMMDD>-<HHMMSS>.dump
  std::string database;
  std::uint64_t size = 0;
  std::string sha256;
  std::string pg_dump_version;
  std::string server_version;
  std::uint64_t database_size = 0;
  int compress_level = 6;
  std::string compression = "pg_dump";  // COMPRESSION: pg_dump, zstd or none
  /// For a file the agent compressed or encrypted: the pg_dump archive's own sha256 and size
  /// (`sha256` and `size` are always of the stored bytes).
  std::string plaintext_sha256;
  std::uint64_t plaintext_size = 0;
  /// The age recipients (age1…) the file is encrypted to; empty: not encrypted.
  std::vector<std::string> encryption_recipients;
  std::string started;   // UTC
  std::string finished;  // UTC, dump verified
  std::string agent_host;
  std::string run_id;
  /// Made by the old tool and taken over (checked, given this manifest) by pgship.
  bool adopted = false;
  /// "exact" (counted in the dump's snapshot), "estimate" (pg_class.reltuples) or empty.
  std::string row_counts;
  std::vector<table_rows> tables;
  std::vector<extension_version> extensions;
  /// Present when the database has the timescaledb extension.
  std::optional<timescaledb_facts> timescaledb;
  /// "globals" for the cluster's roles and tablespaces (GLOBALS; `database` is then
  /// "globals" and `pg_dump_version` is pg_dumpall's), "basebackup" for a physical base backup
  /// (`database` "pgdata", `physical` set); empty for a database's dump or an archive, as in
  /// every manifest from before.
  std::string kind;
  /// Base backups: the cluster and the WAL the backup needs.
  std::optional<physical_facts> physical;
  /// Globals: the roles the script creates, and whether it sets their passwords.
  std::vector<std::string> roles;
  bool role_passwords = false;
  upload_record upload;
};

/// The version of extension `name` the backup was taken with; nullopt when it has none (or
/// the manifest predates the `extensions` list).
std::optional<std::string> extension_of(const manifest& m, std::string_view name);

std::string to_json(const manifest& m);
std::optional<manifest> parse_manifest(std::string_view json);

/// `<dir>/<name without its backup extension>.json`
std::filesystem::path manifest_path(const std::filesystem::path& dir, std::string_view name);
std::optional<manifest> read_manifest(const std::filesystem::path& path);
/// Writes the manifest atomically (temp file, fsync, rename, directory fsync).
std::error_code write_manifest(const std::filesystem::path& dir, const manifest& m);
/// Writes `<dir>/<name>.sha256` atomically.
std::error_code write_checksum_file(const std::filesystem::path& dir, std::string_view name,
                                    std::string_view sha256_hex);

}  // namespace pgship::agent
