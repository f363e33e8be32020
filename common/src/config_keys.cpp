#include <algorithm>
#include <vector>

#include <pgship/common/config_keys.hpp>

namespace pgship::config {
namespace {

// Both programs' keys, K_FILE forms of secrets included, sorted. tests/unit/common/
// config_keys_test.cpp compares this with agent::config_schema() and receiver::config_schema():
// a key added to a schema and not here fails that test (here, and not in a schema, too).
constexpr std::string_view key_names[] = {
    "AGE_IDENTITY_FILE",
    "API_TOKENS_FILE",
    "APPEND_ONLY",
    "ARCHIVE_DIRS",
    "AUTH_FAILURE_LIMIT",
    "BACKUP_API_TOKEN",
    "BACKUP_API_TOKEN_FILE",
    "BACKUP_API_URL",
    "BACKUP_DIR",
    "BACKUP_DIR_MIN_FREE",
    "BACKUP_KEEP_DAYS",
    "BACKUP_KEEP_MONTHS",
    "BACKUP_KEEP_WEEKS",
    "BASEBACKUP_SCHEDULE",
    "BASEBACKUP_WAL_TIMEOUT",
    "CA_FILE",
    "CLIENT_CERT_FILE",
    "CLIENT_KEY_FILE",
    "CLIENT_MAX_RATE",
    "COMPRESSION",
    "COMPRESS_LEVEL",
    "CONTROL_TOKEN",
    "CONTROL_TOKEN_FILE",
    "DRILL_DATABASE",
    "DRILL_JOBS",
    "DRILL_KEEP",
    "DRILL_POSTGRES_HOST",
    "DRILL_POSTGRES_PASSWORD",
    "DRILL_POSTGRES_PASSWORD_FILE",
    "DRILL_POSTGRES_PORT",
    "DRILL_POSTGRES_USER",
    "DRILL_SCHEDULE",
    "ENCRYPT_RECIPIENTS",
    "ENCRYPT_RECIPIENTS_FILE",
    "GLOBALS",
    "HEALTHCHECK_PING_URL",
    "HEALTHCHECK_PING_URL_FILE",
    "HEALTHCHECK_PORT",
    "HEALTH_MAX_AGE",
    "IDLE_TIMEOUT",
    "KEEP_DAYS",
    "KEEP_LOCAL_BACKUPS",
    "KEEP_MONTHS",
    "KEEP_WEEKS",
    "LEGACY_METRICS",
    "LISTEN_ADDR",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "MAX_CONCURRENT_UPLOADS",
    "MAX_CONNECTIONS_PER_IP",
    "MAX_RETRIES",
    "MAX_UPLOAD_BYTES",
    "METRICS_TEXTFILE",
    "MIN_FREE_BYTES",
    "MISSED_RUN_POLICY",
    "PG_DUMP_PATH",
    "PITR_DRILL_SCHEDULE",
    "PITR_KEEP_DAYS",
    "PITR_SPOOL",
    "PITR_SYSTEM",
    "PORT",
    "POSTGRES_DB",
    "POSTGRES_HOST",
    "POSTGRES_PASSWORD",
    "POSTGRES_PASSWORD_FILE",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "QUOTA_BYTES",
    "RATE_BURST",
    "RATE_LIMIT",
    "REPLICATION_PASSWORD",
    "REPLICATION_PASSWORD_FILE",
    "REPLICATION_USER",
    "RETRY_DELAY",
    "ROW_COUNTS",
    "RUN_LOG_DIR",
    "RUN_LOG_KEEP_DAYS",
    "RUN_ON_STARTUP",
    "S3_ACCESS_KEY_ID",
    "S3_ACCESS_KEY_ID_FILE",
    "S3_BUCKET",
    "S3_CA_FILE",
    "S3_ENDPOINT",
    "S3_OBJECT_LOCK_DAYS",
    "S3_PATH_STYLE",
    "S3_PREFIX",
    "S3_REGION",
    "S3_SECRET_ACCESS_KEY",
    "S3_SECRET_ACCESS_KEY_FILE",
    "SCHEDULE",
    "SCHEDULE_JITTER",
    "SCRUB_INTERVAL",
    "SCRUB_RATE",
    "STATUS_PAGE",
    "STORAGE_BACKEND",
    "STORAGE_DIR",
    "TIMESCALEDB_JOBS_DURING_DUMP",
    "TLS_CERT_FILE",
    "TLS_CLIENT_CA_FILE",
    "TLS_KEY_FILE",
    "TZ",
    "UPLOAD",
    "UPLOAD_CHUNK_SIZE",
    "UPLOAD_EXPIRY",
    "UPLOAD_RATE_LIMIT",
    "WAL_ACK_INTERVAL",
    "WAL_MAX_LAG",
    "WAL_SLOT",
    "WAL_STREAM",
    "WEBHOOK_EVENTS",
    "WEBHOOK_FORMAT",
    "WEBHOOK_SECRET",
    "WEBHOOK_SECRET_FILE",
    "WEBHOOK_URL",
    "WEBHOOK_URL_FILE",
    "ZSTD_LEVEL",
    "ZSTD_THREADS",
};

// The leading words of those key families that are pgship's alone: no other software met in a
// backup deployment (the postgres, timescaledb and postgres-backup-local images, systemd,
// Docker, Kubernetes, a CI runner) names variables so. They come from the schemas above and from
// DESIGN.md's planned keys (WAL_, PITR_, BASEBACKUP_, WEBHOOK_), so setting a planned key for a
// version without it stops start-up instead of being ignored. Left out on purpose because
// others use them too: POSTGRES_ and PG_ (the postgres image's POSTGRES_INITDB_ARGS, PG_MAJOR),
// BACKUP_ and HEALTHCHECK_ (postgres-backup-local), TIMESCALEDB_ (TIMESCALEDB_TELEMETRY),
// PGSHIP_ (Kubernetes' service links of a Service named pgship-receiver:
// PGSHIP_RECEIVER_PORT_9101_TCP...; the image's PGSHIP_ROLE), and generic words (LOG_, TLS_,
// KEEP_, MAX_, MIN_, RUN_, STORAGE_, CLIENT_, RATE_, CA_).
constexpr std::string_view key_prefixes[] = {
    "AGE_",   "BASEBACKUP_", "DRILL_", "ENCRYPT_", "PITR_", "S3_",
    "SCRUB_", "UPLOAD_",     "WAL_",   "WEBHOOK_", "ZSTD_",
};

// A prefix of five letters or more is also carried by an inflected first word (ENCRYPTION_ for
// ENCRYPT_, WEBHOOKS_, UPLOADS_); a shorter one only exactly, so WALLET_ or S3CMD_ are not
// taken for WAL_ or S3_.
constexpr std::size_t inflectable_prefix = 5;

bool carries_prefix(std::string_view name, std::string_view prefix) {
  if (name.starts_with(prefix)) return true;
  const std::string_view word = prefix.substr(0, prefix.size() - 1);
  return word.size() >= inflectable_prefix && name.starts_with(word) &&
         name.find('_') != std::string_view::npos;
}

}  // namespace

std::span<const std::string_view> pgship_key_names() {
  return key_names;
}

std::span<const std::string_view> pgship_key_prefixes() {
  return key_prefixes;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Two rows of the dynamic programme.
  std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

bool is_near_miss(std::string_view name, std::string_view key) {
  // Names and keys shorter than 6 are never compared: among 2 to 5 characters two edits join
  // unrelated words (PWD and _ are that close to TZ, PATH and PGPORT to PORT). From 6 on, one
  // edit in four characters at most (so 1 below 8, 2 from 8 on): KEEP_LOCAL_BACKUP and
  // POSTGRES_PASWORD are caught, while the usual environment (HOSTNAME, LISTEN_FDS, PGDATA,
  // SSL_CERT_FILE, KUBERNETES_PORT, ...) stays 3 or more edits from every key.
  constexpr std::size_t shortest = 6, chars_per_edit = 4, most_edits = 2;
  const std::size_t length = std::min(name.size(), key.size());
  if (length < shortest) return false;
  const std::size_t distance = edit_distance(name, key);
  return distance <= most_edits && distance * chars_per_edit <= length;
}

std::string_view nearest_key(std::string_view name, std::span<const std::string_view> candidates) {
  std::string_view best;
  std::size_t best_distance = 0;
  for (const auto candidate : candidates) {
    const std::size_t distance = edit_distance(name, candidate);
    if (best.empty() || distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

bool is_service_link(std::string_view name, std::string_view value) {
  // Kubernetes (enableServiceLinks, on by default) gives every pod <SVC>_SERVICE_HOST,
  // <SVC>_SERVICE_PORT[_<port name>], <SVC>_PORT=tcp://... and <SVC>_PORT_<n>_<PROTO>[_...] for
  // every Service in the namespace; a Service called s3 or webhook must not stop the agent.
  if (name.ends_with("_SERVICE_HOST") || name.ends_with("_SERVICE_PORT") ||
      name.find("_SERVICE_PORT_") != std::string_view::npos) {
    return true;
  }
  const bool link_value =
      value.starts_with("tcp://") || value.starts_with("udp://") || value.starts_with("sctp://");
  if (name.ends_with("_PORT") && link_value) return true;
  const auto port = name.find("_PORT_");
  if (port == std::string_view::npos) return false;
  std::size_t i = port + 6;
  const std::size_t digits = i;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9')
    ++i;
  if (i == digits) return false;
  const auto proto = name.substr(i);
  return proto.starts_with("_TCP") || proto.starts_with("_UDP") || proto.starts_with("_SCTP");
}

bool looks_like_pgship_key(std::string_view name) {
  const auto prefixed = [name](std::string_view prefix) { return carries_prefix(name, prefix); };
  const auto near = [name](std::string_view key) { return is_near_miss(name, key); };
  return std::any_of(std::begin(key_prefixes), std::end(key_prefixes), prefixed) ||
         std::any_of(std::begin(key_names), std::end(key_names), near);
}

}  // namespace pgship::config
