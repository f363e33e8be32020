#pragma once
// The agent's configuration keys (DESIGN.md "Agent keys") and their typed, validated values.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <pgship/common/age/age_keys.hpp>
#include <pgship/common/config.hpp>
#include <pgship/common/events/webhook_settings.hpp>

namespace pgship::agent {

/// Every key the agent reads, with its default and whether it is a secret.
std::span<const config::key_spec> config_schema();

enum class missed_run_policy { skip, run_once };

/// What a command needs of the configuration: `list` only the receiver, `restore` the
/// receiver and the target database's server, everything else all of it (POSTGRES_DB too).
/// What the settings are read for: `fetch` is wal-fetch, which needs only the receiver, the
/// archive's system and the keys (restore --pitr writes it a file with no more).
enum class settings_use { backup, list, restore, fetch };

/// Where a drill restores to (DRILL_POSTGRES_*).
struct pg_server {
  std::string host;
  int port = 5432;
  std::string user;
  std::string password;
};

/// One entry of ARCHIVE_DIRS.
struct archive_dir {
  std::string name;
  std::filesystem::path path;
};

struct settings {
  std::string postgres_host;
  int postgres_port = 5432;
  std::vector<std::string> databases;
  std::string postgres_user;
  std::string postgres_password;
  std::filesystem::path backup_dir;
  int keep_local_backups = 3;
  bool upload = true;
  std::string backup_api_url;  // empty when upload is off
  std::string backup_api_token;
  std::string healthcheck_ping_url;  // a secret; {db} stands for each database
  events::webhook_settings webhook;  // WEBHOOK_*: its URL and secret are secrets
  int max_retries = 3;
  std::chrono::milliseconds retry_delay{5000};
  std::string schedule;
  std::string time_zone;  // empty: the system zone
  int compress_level = 6;
  std::string compression = "pg_dump";  // pg_dump (-Z COMPRESS_LEVEL), zstd or none (-Z0)
  int zstd_level = 3;
  int zstd_threads = 0;  // resolved: 0 in the file means one per core
  int healthcheck_port = 8080;
  std::string listen_addr;
  std::string control_token;
  std::optional<std::int64_t> keep_days, keep_weeks, keep_months;
  std::optional<std::filesystem::path> metrics_textfile;
  std::uint64_t upload_chunk_size = 16 * 1024 * 1024;
  std::uint64_t backup_dir_min_free = 1ull << 30;  // BACKUP_DIR_MIN_FREE
  std::uint64_t upload_rate_limit = 0;             // bytes/s for all uploads together; 0: unlimited
  std::optional<std::filesystem::path> pg_dump_path;  // nullopt: auto
  std::optional<std::filesystem::path> ca_file, client_cert_file, client_key_file;
  std::chrono::milliseconds schedule_jitter{0};
  missed_run_policy missed_runs = missed_run_policy::run_once;
  bool run_on_startup = false;
  std::optional<std::chrono::milliseconds> health_max_age;  // nullopt: two schedule periods
  std::filesystem::path run_log_dir;                        // BACKUP_DIR/logs unless RUN_LOG_DIR
  int run_log_keep_days = 30;
  bool legacy_metrics = false;
  std::string row_counts = "exact";  // exact, estimate or off
  std::string drill_schedule;        // empty: no scheduled drills
  std::string basebackup_schedule;   // empty: no scheduled base backups
  std::string pitr_drill_schedule;   // empty: no scheduled PITR drills
  /// How long a base backup waits, after its upload, for the receiver's archive to hold its
  /// WAL (BASEBACKUP_WAL_TIMEOUT).
  std::chrono::milliseconds basebackup_wal_timeout{std::chrono::minutes(10)};
  std::string drill_database = "{db}_pgship_drill";
  pg_server drill_server;  // DRILL_POSTGRES_*, each defaulting to POSTGRES_*
  bool drill_keep = false;
  int drill_jobs = 1;  // DRILL_JOBS: pg_restore -j of scheduled drills
  std::string timescaledb_jobs_during_dump = "pause";  // pause or run
  std::vector<archive_dir> archive_dirs;
  bool globals = true;  // GLOBALS: each full run also ships pg_dumpall --globals-only
  /// ENCRYPT_RECIPIENTS(_FILE): set, every backup is an age file to all of them.
  std::vector<age::recipient> encrypt_recipients;
  /// AGE_IDENTITY_FILE, read at start-up: what restores and drills decrypt with.
  std::optional<std::filesystem::path> age_identity_file;
  std::vector<age::identity> age_identities;
  /// WAL_STREAM: the physical archive's stream (agent/wal/); needs UPLOAD=on.
  bool wal_stream = false;
  std::string wal_slot = "pgship";
  std::chrono::milliseconds wal_ack_interval{1000};
  std::chrono::milliseconds wal_max_lag{60000};
  std::string replication_user;      // REPLICATION_USER, else POSTGRES_USER
  std::string replication_password;  // REPLICATION_PASSWORD(_FILE), else POSTGRES_PASSWORD
  /// PITR_SYSTEM: the system identifier of the archive wal-fetch reads.
  std::string pitr_system;
  /// PITR_SPOOL: where wal-fetch keeps the segments it fetched ahead; nullopt: none kept.
  std::optional<std::filesystem::path> pitr_spool;
};

/// DRILL_DATABASE for `database` ({db} replaced by it). Refused (nullopt, `why` says it) when
/// it names a source database (one of POSTGRES_DB, or `database` itself), a template or
/// `postgres`, or is not a plain database name.
std::optional<std::string> drill_database_for(const settings& s, const std::string& database,
                                              std::string& why);

/// The role and password a base backup connects with for replication: REPLICATION_USER and
/// REPLICATION_PASSWORD (each defaulting to POSTGRES_USER / POSTGRES_PASSWORD).
struct replication_login {
  std::string user;
  std::string password;
};
replication_login replication_credentials(const settings& s);

/// Reads and validates every key `use` needs. Throws config_error naming the first bad key.
settings read_settings(const config::config& cfg, settings_use use = settings_use::backup);

}  // namespace pgship::agent
