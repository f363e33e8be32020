#include "settings.hpp"
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <pgship/common/events/webhook_settings.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/io/stored_format.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/wire/wal.hpp>

#include "schedule/cron.hpp"

namespace pgship::agent {
namespace {

using config::key_spec;

constexpr key_spec schema[] = {
    {"POSTGRES_HOST", "localhost", false, "database server host or socket directory"},
    {"POSTGRES_PORT", "5432", false, "database server port"},
    {"POSTGRES_DB", "", false, "database, or comma-separated list of databases (required)"},
    {"POSTGRES_USER", "", false, "database user (required)"},
    {"POSTGRES_PASSWORD", "", true, "database password; passed to pg_dump via its environment"},
    {"BACKUP_DIR", "/var/backups/pgship", false,
     "local backups; .partial/ holds in-progress files"},
    {"KEEP_LOCAL_BACKUPS", "3", false, "newest local backups kept per database"},
    {"BACKUP_DIR_MIN_FREE", "1G", false,
     "a dump that would leave BACKUP_DIR's file system below this is refused (0: no floor)"},
    {"BACKUP_API_URL", "", false, "receiver base URL, http:// or https://"},
    {"BACKUP_API_TOKEN", "", true, "bearer token for the receiver"},
    {"HEALTHCHECK_PING_URL", "", true,
     "dead-man's switch (healthchecks.io style): <url>/start, <url>, <url>/fail per backup run, "
     "?rid=<run id>, the run log's tail as the body; {db}: one check per database"},
    {"MAX_RETRIES", "3", false, "upload attempts after the first"},
    {"RETRY_DELAY", "5", false, "first retry backoff (seconds or duration), doubled each time"},
    {"SCHEDULE", "0 3 * * *", false, "cron expression or @hourly/@daily/@weekly/@monthly"},
    {"TZ", "", false, "time zone the schedule is read in (default: the system zone)"},
    {"COMPRESS_LEVEL", "6", false, "pg_dump -Z level, 0-9"},
    {"COMPRESSION", "pg_dump", false,
     "pg_dump: -Fc -Z COMPRESS_LEVEL; zstd: -Fc -Z0 compressed by the agent (.dump.zst); none"},
    {"ZSTD_LEVEL", "3", false, "zstd level, 1-19"},
    {"ZSTD_THREADS", "0", false, "zstd worker threads; 0: one per core"},
    {"HEALTHCHECK_PORT", "8080", false, "control HTTP server port"},
    {"LISTEN_ADDR", "0.0.0.0", false, "control HTTP server address"},
    {"CONTROL_TOKEN", "", true, "bearer token for POST endpoints; unset: POST only from loopback"},
    {"BACKUP_KEEP_DAYS", "", false, "GFS: keep one backup per day for this many days"},
    {"BACKUP_KEEP_WEEKS", "", false, "GFS: keep one backup per week for this many weeks"},
    {"BACKUP_KEEP_MONTHS", "", false, "GFS: keep one backup per month for this many months"},
    {"LOG_FORMAT", "text", false, "text or json"},
    {"LOG_LEVEL", "info", false, "trace, debug, info, warn, error"},
    {"METRICS_TEXTFILE", "", false, "also write metrics to this file (node_exporter textfile)"},
    {"UPLOAD", "on", false, "off keeps backups local only"},
    {"UPLOAD_CHUNK_SIZE", "16M", false, "resumable upload chunk size"},
    {"UPLOAD_RATE_LIMIT", "", false,
     "bytes/s for all upload traffic together (K/M/G); unset: no limit"},
    {"PG_DUMP_PATH", "auto", false, "pg_dump binary; auto picks one not older than the server"},
    {"CA_FILE", "", false, "CA bundle to verify the receiver (default: system store)"},
    {"CLIENT_CERT_FILE", "", false, "client certificate for mutual TLS"},
    {"CLIENT_KEY_FILE", "", false, "client key for mutual TLS"},
    {"SCHEDULE_JITTER", "0", false, "random delay added to each scheduled fire"},
    {"MISSED_RUN_POLICY", "run-once", false, "skip or run-once after a clock jump or pause"},
    {"RUN_ON_STARTUP", "false", false, "run once when the daemon starts"},
    {"HEALTH_MAX_AGE", "", false, "/health turns 503 past this age (default: 2 schedule periods)"},
    {"RUN_LOG_DIR", "", false, "one log file per run, <run_id>.log (default: BACKUP_DIR/logs)"},
    {"RUN_LOG_KEEP_DAYS", "30", false, "run log files older than this many days are removed"},
    {"LEGACY_METRICS", "off", false, "on: also export the old tool's mt5_backup_* metrics"},
    {"ROW_COUNTS", "exact", false,
     "exact: count(*) per table in the dump's own snapshot; estimate: reltuples; off"},
    {"DRILL_SCHEDULE", "", false, "cron for restore drills (e.g. 0 4 * * 0); unset: none"},
    {"BASEBACKUP_SCHEDULE", "", false,
     "cron for physical base backups (needs WAL_STREAM=on); unset: none scheduled"},
    {"PITR_DRILL_SCHEDULE", "", false,
     "cron for point-in-time recovery drills (needs the server binaries here); unset: none"},
    {"BASEBACKUP_WAL_TIMEOUT", "10m", false,
     "how long a base backup waits for the receiver to hold the WAL up to its stop point"},
    {"DRILL_DATABASE", "{db}_pgship_drill", false,
     "scratch database of a drill ({db}: the source database); never a source database"},
    {"DRILL_POSTGRES_HOST", "", false, "server drills restore into (default: POSTGRES_HOST)"},
    {"DRILL_POSTGRES_PORT", "", false, "its port (default: POSTGRES_PORT)"},
    {"DRILL_POSTGRES_USER", "", false, "its user, with CREATEDB (default: POSTGRES_USER)"},
    {"DRILL_POSTGRES_PASSWORD", "", true, "its password (default: POSTGRES_PASSWORD)"},
    {"DRILL_KEEP", "false", false, "keep the scratch database after a drill, for inspection"},
    {"DRILL_JOBS", "1", false, "parallel pg_restore jobs of a scheduled drill (--jobs)"},
    {"TIMESCALEDB_JOBS_DURING_DUMP", "pause", false,
     "pause: TimescaleDB's jobs start no run while pg_dump holds its locks; run: left alone"},
    {"ARCHIVE_DIRS", "", false,
     "name=/path[,name2=/path2]: directories shipped as tar archives by every run"},
    {"GLOBALS", "on", false,
     "on: every run (not backup --database) also ships pg_dumpall --globals-only (roles, "
     "tablespaces) as globals-<stamp>.sql"},
    {"ENCRYPT_RECIPIENTS", "", false,
     "age X25519 recipients (age1...), comma-separated: every backup is an age file (.age)"},
    {"ENCRYPT_RECIPIENTS_FILE", "", false,
     "file of age recipients, one per line (# comments), added to ENCRYPT_RECIPIENTS"},
    {"AGE_IDENTITY_FILE", "", false,
     "age identities (AGE-SECRET-KEY-1...) for restore and drills; never needed to back up"},
    {"WAL_STREAM", "off", false,
     "on: stream WAL over a replication connection and ship it to the receiver continuously"},
    {"WAL_SLOT", "pgship", false,
     "physical replication slot of the stream (created with RESERVE_WAL when missing)"},
    {"WAL_ACK_INTERVAL", "1s", false,
     "longest time received WAL waits before it is shipped (100ms-60s): the RPO while up"},
    {"WAL_MAX_LAG", "60s", false, "/health turns 503 while pgship_wal_lag_seconds exceeds this"},
    {"REPLICATION_USER", "", false,
     "role with REPLICATION for the stream (default: POSTGRES_USER)"},
    {"REPLICATION_PASSWORD", "", true, "its password (default: POSTGRES_PASSWORD)"},
    {"PITR_SYSTEM", "", false,
     "wal-fetch: the system identifier of the archive it reads (restore --pitr writes it)"},
    {"PITR_SPOOL", "", false,
     "wal-fetch: directory for the segments it fetches ahead (outside the data directory)"},
};

std::string read_key_file(const std::filesystem::path& path, const char* key) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    throw config::config_error(std::string(key) + "=\"" + path.string() +
                               "\" cannot be read: " + std::strerror(errno));
  }
  return text.str();
}

// An encryption key that is configured and cannot be used stops start-up: a backup written in
// clear, or a drill that cannot decrypt, would be doing less than asked.
// COMPRESSION: pg_dump (which compresses itself), each compression of io/stored_format.hpp,
// none.
std::vector<std::string_view> compression_choices() {
  std::vector<std::string_view> out{"pg_dump"};
  for (const auto& c : io::compressions) {
    if (c.name != io::to_string(io::compression::none)) out.push_back(c.name);
  }
  out.push_back(io::to_string(io::compression::none));
  return out;
}

// WAL_*: the physical archive's stream. It ships straight from the replication slot to the
// receiver: without uploads there is nowhere for WAL to go (no local spool, by design).
void read_wal_stream(const config::config& cfg, settings& s) {
  s.wal_stream = cfg.boolean("WAL_STREAM");
  s.wal_slot = cfg.required_string("WAL_SLOT");
  const bool slot_ok =
      s.wal_slot.size() <= 63 && std::all_of(s.wal_slot.begin(), s.wal_slot.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      });
  if (!slot_ok) {
    throw config::config_error("WAL_SLOT=\"" + s.wal_slot +
                               "\" is invalid: a replication slot name is 1 to 63 lower-case "
                               "letters, digits and '_'");
  }
  s.wal_ack_interval = cfg.duration("WAL_ACK_INTERVAL");
  if (s.wal_ack_interval < std::chrono::milliseconds(100) ||
      s.wal_ack_interval > std::chrono::seconds(60)) {
    throw config::config_error("WAL_ACK_INTERVAL=\"" + cfg.string("WAL_ACK_INTERVAL") +
                               "\" is invalid: expected 100ms to 60s");
  }
  s.wal_max_lag = cfg.duration("WAL_MAX_LAG");
  if (s.wal_max_lag < std::chrono::seconds(1)) {
    throw config::config_error("WAL_MAX_LAG=\"" + cfg.string("WAL_MAX_LAG") +
                               "\" is invalid: expected 1s or more");
  }
  s.replication_user =
      cfg.raw("REPLICATION_USER") ? cfg.required_string("REPLICATION_USER") : s.postgres_user;
  s.replication_password =
      cfg.raw("REPLICATION_PASSWORD") ? cfg.string("REPLICATION_PASSWORD") : s.postgres_password;
  if (s.wal_stream && !s.upload) {
    throw config::config_error(
        "WAL_STREAM=on needs UPLOAD=on and BACKUP_API_URL: WAL goes from the replication slot "
        "straight to the receiver, there is no local spool");
  }
}

void read_encryption(const config::config& cfg, settings& s) {
  try {
    s.encrypt_recipients = age::parse_recipient_list(cfg.string("ENCRYPT_RECIPIENTS"));
  } catch (const std::invalid_argument& e) {
    throw config::config_error(std::string("ENCRYPT_RECIPIENTS is invalid: ") + e.what());
  }
  if (const auto file = cfg.optional_path("ENCRYPT_RECIPIENTS_FILE")) {
    try {
      auto more = age::parse_recipients_file(read_key_file(*file, "ENCRYPT_RECIPIENTS_FILE"));
      if (more.empty()) throw std::invalid_argument("it holds no recipient");
      s.encrypt_recipients.insert(s.encrypt_recipients.end(), more.begin(), more.end());
    } catch (const std::invalid_argument& e) {
      throw config::config_error("ENCRYPT_RECIPIENTS_FILE=\"" + file->string() +
                                 "\" is invalid: " + e.what());
    }
  }
  s.age_identity_file = cfg.optional_path("AGE_IDENTITY_FILE");
  if (s.age_identity_file) {
    const auto& path = *s.age_identity_file;
    try {
      s.age_identities = age::parse_identities_file(read_key_file(path, "AGE_IDENTITY_FILE"));
    } catch (const std::invalid_argument& e) {
      throw config::config_error("AGE_IDENTITY_FILE=\"" + path.string() +
                                 "\" is invalid: " + e.what());
    }
    std::error_code ec;
    const auto perms = std::filesystem::status(path, ec).permissions();
    using std::filesystem::perms;
    if (!ec && (perms & (perms::group_all | perms::others_all)) != perms::none) {
      log::write(spdlog::level::warn,
                 "AGE_IDENTITY_FILE is readable by other users than its owner; chmod 600 it",
                 {{"file", path.string()}});
    }
  }
  if (!s.drill_schedule.empty() && !s.encrypt_recipients.empty() && s.age_identities.empty()) {
    throw config::config_error(
        "DRILL_SCHEDULE is set and backups are encrypted, but AGE_IDENTITY_FILE is not: drills "
        "could not decrypt them (HINT: run drills on a host that holds an identity)");
  }
  if (!s.pitr_drill_schedule.empty() && !s.encrypt_recipients.empty() && s.age_identities.empty()) {
    throw config::config_error(
        "PITR_DRILL_SCHEDULE is set and backups are encrypted, but AGE_IDENTITY_FILE is not: "
        "PITR drills could not decrypt the base backups and WAL");
  }
}

}  // namespace

std::span<const config::key_spec> config_schema() {
  static const auto joined = [] {
    std::vector<config::key_spec> all(std::begin(schema), std::end(schema));
    for (const auto& k :
         events::webhook_keys("backup.failed,drill.failed,wal.lag,basebackup.failed"))
      all.push_back(k);
    return all;
  }();
  return joined;
}

replication_login replication_credentials(const settings& s) {
  return {s.replication_user, s.replication_password};
}

settings read_settings(const config::config& cfg, settings_use use) {
  settings s;
  // wal-fetch runs from a recovering server's restore_command with a file of a few keys.
  const bool fetch = use == settings_use::fetch;
  s.postgres_host = cfg.required_string("POSTGRES_HOST");
  s.postgres_port = static_cast<int>(cfg.integer("POSTGRES_PORT", 1, 65535));
  s.databases = cfg.list("POSTGRES_DB");
  // A recovery machine lists and restores without knowing what the agent backs up.
  if (s.databases.empty() && use == settings_use::backup) {
    throw config::config_error("POSTGRES_DB is required but not set");
  }
  for (const auto& db : s.databases) {
    if (!fs::is_safe_name(db)) {
      throw config::config_error("POSTGRES_DB=\"" + cfg.string("POSTGRES_DB") +
                                 "\" is invalid: expected database names of letters, digits, "
                                 "'.', '_' and '-', separated by commas");
    }
  }
  s.postgres_user = use == settings_use::list || fetch ? cfg.string("POSTGRES_USER")
                                                       : cfg.required_string("POSTGRES_USER");
  s.postgres_password = cfg.string("POSTGRES_PASSWORD");
  s.backup_dir = cfg.required_string("BACKUP_DIR");
  s.keep_local_backups = static_cast<int>(cfg.integer("KEEP_LOCAL_BACKUPS", 1, 100000));
  s.backup_dir_min_free = cfg.size("BACKUP_DIR_MIN_FREE");
  s.upload = cfg.boolean("UPLOAD");
  if (s.upload || fetch) {
    if (!cfg.raw("BACKUP_API_URL")) {
      throw config::config_error("BACKUP_API_URL is required unless UPLOAD=off");
    }
    s.backup_api_url = std::string(cfg.url("BACKUP_API_URL", {"http", "https"}).buffer());
  }
  s.backup_api_token = cfg.string("BACKUP_API_TOKEN");
  s.webhook = events::read_webhook_settings(cfg);
  s.healthcheck_ping_url = cfg.string("HEALTHCHECK_PING_URL");
  const auto& ping = s.healthcheck_ping_url;
  if (!ping.empty() && !(ping.starts_with("http://") && ping.size() > 7) &&
      !(ping.starts_with("https://") && ping.size() > 8)) {
    // The URL is a credential: named by its key only.
    throw config::config_error(
        "HEALTHCHECK_PING_URL is not an http:// or https:// URL (its value is a secret and is "
        "not shown)");
  }
  s.max_retries = static_cast<int>(cfg.integer("MAX_RETRIES", 0, 100));
  s.retry_delay = cfg.duration("RETRY_DELAY");
  s.schedule = cfg.required_string("SCHEDULE");
  if (std::string error; !parse_cron(s.schedule, error)) {
    throw config::config_error("SCHEDULE=\"" + s.schedule + "\" is invalid: " + error);
  }
  s.time_zone = cfg.string("TZ");
  if (!s.time_zone.empty()) {
    // glibc quietly falls back to UTC for a zone it cannot find: refuse instead.
    const std::string zone = s.time_zone.starts_with(':') ? s.time_zone.substr(1) : s.time_zone;
    std::error_code ec;
    if (zone != "UTC" &&
        !std::filesystem::exists(std::filesystem::path("/usr/share/zoneinfo") / zone, ec)) {
      throw config::config_error("TZ=\"" + s.time_zone +
                                 "\" is invalid: no such time zone in "
                                 "/usr/share/zoneinfo (expected e.g. Europe/Berlin or UTC)");
    }
    // The schedule is read in this zone (the config file may set TZ, not only the env).
    ::setenv("TZ", s.time_zone.c_str(), 1);
    ::tzset();
  }
  s.compress_level = static_cast<int>(cfg.integer("COMPRESS_LEVEL", 0, 9));
  s.compression = cfg.choice("COMPRESSION", compression_choices());
  s.zstd_level = static_cast<int>(cfg.integer("ZSTD_LEVEL", 1, 19));
  s.zstd_threads = static_cast<int>(cfg.integer("ZSTD_THREADS", 0, 64));
  if (s.zstd_threads == 0)
    s.zstd_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  s.healthcheck_port = static_cast<int>(cfg.integer("HEALTHCHECK_PORT", 0, 65535));
  s.listen_addr = cfg.ip_address("LISTEN_ADDR");
  s.control_token = cfg.string("CONTROL_TOKEN");
  s.keep_days = cfg.optional_integer("BACKUP_KEEP_DAYS", 0, 100000);
  s.keep_weeks = cfg.optional_integer("BACKUP_KEEP_WEEKS", 0, 100000);
  s.keep_months = cfg.optional_integer("BACKUP_KEEP_MONTHS", 0, 100000);
  cfg.choice("LOG_FORMAT", {"text", "json"});
  s.metrics_textfile = cfg.optional_path("METRICS_TEXTFILE");
  s.upload_chunk_size = cfg.size("UPLOAD_CHUNK_SIZE", 64 * 1024, 1024ull * 1024 * 1024);
  if (cfg.raw("UPLOAD_RATE_LIMIT")) {
    s.upload_rate_limit = cfg.size("UPLOAD_RATE_LIMIT", 1024, 1ull << 40);
  }
  if (cfg.string("PG_DUMP_PATH") != "auto") s.pg_dump_path = cfg.optional_path("PG_DUMP_PATH");
  s.ca_file = cfg.optional_path("CA_FILE");
  s.client_cert_file = cfg.optional_path("CLIENT_CERT_FILE");
  s.client_key_file = cfg.optional_path("CLIENT_KEY_FILE");
  if (s.client_cert_file.has_value() != s.client_key_file.has_value()) {
    throw config::config_error("CLIENT_CERT_FILE and CLIENT_KEY_FILE must be set together");
  }
  s.schedule_jitter = cfg.duration("SCHEDULE_JITTER");
  s.missed_runs = cfg.choice("MISSED_RUN_POLICY", {"skip", "run-once"}) == "skip"
                      ? missed_run_policy::skip
                      : missed_run_policy::run_once;
  s.run_on_startup = cfg.boolean("RUN_ON_STARTUP");
  s.globals = cfg.boolean("GLOBALS");
  if (cfg.raw("HEALTH_MAX_AGE")) s.health_max_age = cfg.duration("HEALTH_MAX_AGE");
  s.run_log_dir = cfg.string("RUN_LOG_DIR").empty()
                      ? s.backup_dir / "logs"
                      : std::filesystem::path(cfg.string("RUN_LOG_DIR"));
  s.run_log_keep_days = static_cast<int>(cfg.integer("RUN_LOG_KEEP_DAYS", 1, 100000));
  s.legacy_metrics = cfg.boolean("LEGACY_METRICS");
  s.row_counts = cfg.choice("ROW_COUNTS", {"exact", "estimate", "off"});
  s.drill_schedule = cfg.string("DRILL_SCHEDULE");
  if (std::string error; !s.drill_schedule.empty() && !parse_cron(s.drill_schedule, error)) {
    throw config::config_error("DRILL_SCHEDULE=\"" + s.drill_schedule + "\" is invalid: " + error);
  }
  s.basebackup_schedule = cfg.string("BASEBACKUP_SCHEDULE");
  if (std::string error;
      !s.basebackup_schedule.empty() && !parse_cron(s.basebackup_schedule, error)) {
    throw config::config_error("BASEBACKUP_SCHEDULE=\"" + s.basebackup_schedule +
                               "\" is invalid: " + error);
  }
  s.basebackup_wal_timeout = cfg.duration("BASEBACKUP_WAL_TIMEOUT");
  s.pitr_drill_schedule = cfg.string("PITR_DRILL_SCHEDULE");
  if (std::string error;
      !s.pitr_drill_schedule.empty() && !parse_cron(s.pitr_drill_schedule, error)) {
    throw config::config_error("PITR_DRILL_SCHEDULE=\"" + s.pitr_drill_schedule +
                               "\" is invalid: " + error);
  }
  s.pitr_system = cfg.string("PITR_SYSTEM");
  if (!s.pitr_system.empty() && !wire::wal::is_system_id(s.pitr_system)) {
    throw config::config_error("PITR_SYSTEM=\"" + s.pitr_system +
                               "\" is invalid: a system identifier is 1 to 20 decimal digits");
  }
  if (fetch && s.pitr_system.empty()) {
    throw config::config_error(
        "PITR_SYSTEM is required by wal-fetch: the system identifier of the archive to read "
        "(restore --pitr writes it; GET /api/wal on the receiver lists them)");
  }
  s.pitr_spool = cfg.optional_path("PITR_SPOOL");
  s.drill_database = cfg.required_string("DRILL_DATABASE");
  for (const auto& db : s.databases) {
    if (std::string why; !drill_database_for(s, db, why)) {
      throw config::config_error("DRILL_DATABASE=\"" + s.drill_database + "\" is invalid: " + why);
    }
  }
  s.drill_server.host =
      cfg.raw("DRILL_POSTGRES_HOST") ? cfg.required_string("DRILL_POSTGRES_HOST") : s.postgres_host;
  s.drill_server.port = cfg.raw("DRILL_POSTGRES_PORT")
                            ? static_cast<int>(cfg.integer("DRILL_POSTGRES_PORT", 1, 65535))
                            : s.postgres_port;
  s.drill_server.user =
      cfg.raw("DRILL_POSTGRES_USER") ? cfg.required_string("DRILL_POSTGRES_USER") : s.postgres_user;
  s.drill_server.password = cfg.raw("DRILL_POSTGRES_PASSWORD")
                                ? cfg.string("DRILL_POSTGRES_PASSWORD")
                                : s.postgres_password;
  s.drill_keep = cfg.boolean("DRILL_KEEP");
  s.drill_jobs = static_cast<int>(cfg.integer("DRILL_JOBS", 1, 64));
  s.timescaledb_jobs_during_dump = cfg.choice("TIMESCALEDB_JOBS_DURING_DUMP", {"pause", "run"});
  // Only what backs up reads them: a recovery machine need not have the directories.
  for (const auto& item :
       use == settings_use::backup ? cfg.list("ARCHIVE_DIRS") : std::vector<std::string>{}) {
    const auto eq = item.find('=');
    archive_dir a;
    if (eq != std::string::npos) {
      a.name = item.substr(0, eq);
      a.path = item.substr(eq + 1);
    }
    const auto bad = [&](const std::string& why) {
      return config::config_error("ARCHIVE_DIRS=\"" + cfg.string("ARCHIVE_DIRS") +
                                  "\" is invalid: " + why);
    };
    if (eq == std::string::npos || !fs::is_safe_name(a.name) || !a.path.is_absolute()) {
      throw bad("expected name=/absolute/path entries, names of letters, digits, '.', '_', '-'");
    }
    if (std::find(s.databases.begin(), s.databases.end(), a.name) != s.databases.end()) {
      throw bad("the archive name " + a.name + " is also a database of POSTGRES_DB");
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(a.path, ec)) {
      throw bad(a.path.string() + " is not a directory");
    }
    s.archive_dirs.push_back(std::move(a));
  }
  read_encryption(cfg, s);
  read_wal_stream(cfg, s);
  // A scheduled base backup is complete only once its WAL is on the receiver: without the
  // stream, every one would fail after BASEBACKUP_WAL_TIMEOUT.
  if (!s.pitr_drill_schedule.empty() && !s.upload) {
    throw config::config_error(
        "PITR_DRILL_SCHEDULE is set but UPLOAD=off: a PITR drill recovers from the receiver's "
        "archive");
  }
  if (!s.basebackup_schedule.empty() && !s.wal_stream) {
    throw config::config_error(
        "BASEBACKUP_SCHEDULE is set but WAL_STREAM is not on: a base backup is complete only "
        "once the receiver holds its WAL, which the stream ships (set WAL_STREAM=on)");
  }
  return s;
}

std::optional<std::string> drill_database_for(const settings& s, const std::string& database,
                                              std::string& why) {
  std::string name = s.drill_database;
  for (auto at = name.find("{db}"); at != std::string::npos; at = name.find("{db}", at)) {
    name.replace(at, 4, database);
    at += database.size();
  }
  if (!fs::is_safe_name(name) || name.size() > 63) {
    why = "\"" + name + "\" is not a database name (letters, digits, '.', '_', '-'; at most 63)";
    return std::nullopt;
  }
  const bool source = name == database ||
                      std::find(s.databases.begin(), s.databases.end(), name) != s.databases.end();
  if (source || name == "postgres" || name == "template0" || name == "template1") {
    why = "it names the database \"" + name +
          "\", which a drill would replace and drop; use a scratch name such as "
          "{db}_pgship_drill";
    return std::nullopt;
  }
  return name;
}

}  // namespace pgship::agent
