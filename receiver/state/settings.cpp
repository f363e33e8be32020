#include "state/settings.hpp"

#include <pgship/common/events/webhook_settings.hpp>

namespace pgship::receiver {
namespace {

using config::key_spec;

constexpr key_spec schema[] = {
    {"LISTEN_ADDR", "0.0.0.0", false, "server address"},
    {"PORT", "9101", false, "server port"},
    {"STORAGE_DIR", "/var/lib/pgship", false, "committed backups and .incoming/"},
    {"BACKUP_API_TOKEN", "", true, "one token with every scope, client 'default'"},
    {"API_TOKENS_FILE", "", false, "lines client:scopes:token (token may be sha256:<hex>)"},
    {"MAX_UPLOAD_BYTES", "1T", false, "larger uploads get 413 before any byte is stored"},
    {"MIN_FREE_BYTES", "1G", false, "below this, uploads get 507 and /health is degraded"},
    {"APPEND_ONLY", "false", false, "no DELETE, no overwrite, retention off"},
    {"KEEP_DAYS", "", false, "GFS: daily backups kept per client and database"},
    {"KEEP_WEEKS", "", false, "GFS: weekly backups kept"},
    {"KEEP_MONTHS", "", false, "GFS: monthly backups kept"},
    {"PITR_KEEP_DAYS", "", false,
     "point-in-time window: base backups and WAL kept so any moment of the last N days can be "
     "recovered"},
    {"QUOTA_BYTES", "", false, "stored bytes per client; beyond it uploads get 507"},
    {"MAX_CONCURRENT_UPLOADS", "64", false, "beyond it 503 + Retry-After"},
    {"IDLE_TIMEOUT", "60s", false, "drop a connection that sends nothing this long"},
    {"UPLOAD_EXPIRY", "24h", false, "incomplete resumable uploads are removed after this"},
    {"TLS_CERT_FILE", "", false, "HTTPS certificate chain (PEM)"},
    {"TLS_KEY_FILE", "", false, "HTTPS private key (PEM)"},
    {"TLS_CLIENT_CA_FILE", "", false, "require client certificates signed by this CA"},
    {"SCRUB_INTERVAL", "7d", false, "re-hash every stored backup this often; 0 disables"},
    {"SCRUB_RATE", "100M", false, "bytes/s a scrub reads at most; 0 disables scheduled scrubs"},
    {"RATE_LIMIT", "20r/s", false,
     "requests per token and per client IP (Nr/s or Nr/m), nginx limit_req; off disables"},
    {"RATE_BURST", "50", false, "requests beyond RATE_LIMIT taken at once; past it 429"},
    {"AUTH_FAILURE_LIMIT", "10r/m", false,
     "failed logins per client IP; past it every request from it gets 429 until drained; off"},
    {"MAX_CONNECTIONS_PER_IP", "128", false, "open connections per client IP; 0: no limit"},
    {"CLIENT_MAX_RATE", "", false,
     "upload bytes/s per client, all its uploads together (K/M/G); unset: no limit"},
    {"STORAGE_BACKEND", "fs", false,
     "fs (STORAGE_DIR) or s3 (the S3_* keys; .incoming/ stays local)"},
    {"S3_ENDPOINT", "", false, "S3-compatible service URL, http(s)://host[:port]"},
    {"S3_REGION", "us-east-1", false, "SigV4 region"},
    {"S3_BUCKET", "", false, "bucket holding the backups"},
    {"S3_PREFIX", "", false, "key prefix inside the bucket"},
    {"S3_ACCESS_KEY_ID", "", true, "S3 access key (also S3_ACCESS_KEY_ID_FILE)"},
    {"S3_SECRET_ACCESS_KEY", "", true, "S3 secret key (also S3_SECRET_ACCESS_KEY_FILE)"},
    {"S3_PATH_STYLE", "true", false, "path-style addressing; false puts the bucket in the host"},
    {"S3_CA_FILE", "", false, "CA certificates for an https endpoint (default: system store)"},
    {"S3_OBJECT_LOCK_DAYS", "", false,
     "write every object with a COMPLIANCE retention of this many days (bucket with object lock)"},
    {"STATUS_PAGE", "on", false,
     "on: GET / serves the status page (static; its data comes from /api/status with a token)"},
    {"LOG_FORMAT", "text", false, "text or json"},
    {"LOG_LEVEL", "info", false, "trace, debug, info, warn, error"},
};

}  // namespace

std::span<const config::key_spec> config_schema() {
  static const auto joined = [] {
    std::vector<config::key_spec> all(std::begin(schema), std::end(schema));
    for (const auto& k : events::webhook_keys("scrub.finding,storage.low,wal.gap"))
      all.push_back(k);
    return all;
  }();
  return joined;
}

namespace {

// STORAGE_BACKEND and the S3_* keys: an S3 key under fs (or a missing one under s3) is a
// mistake that would store the backups somewhere else than meant.
void read_s3_settings(const config::config& cfg, settings& s) {
  const auto backend = cfg.string("STORAGE_BACKEND");
  if (backend != "fs" && backend != "s3") {
    throw config::config_error("STORAGE_BACKEND=\"" + backend + "\" is invalid: expected fs or s3");
  }
  s.s3 = backend == "s3";
  if (!s.s3) {
    for (const auto* key : {"S3_ENDPOINT", "S3_BUCKET", "S3_PREFIX", "S3_OBJECT_LOCK_DAYS"}) {
      if (cfg.raw(key)) {
        throw config::config_error(std::string(key) +
                                   " is set but STORAGE_BACKEND=fs: set STORAGE_BACKEND=s3");
      }
    }
    return;
  }
  s.s3_endpoint = cfg.required_string("S3_ENDPOINT");
  s.s3_bucket = cfg.required_string("S3_BUCKET");
  s.s3_region = cfg.required_string("S3_REGION");
  s.s3_prefix = cfg.string("S3_PREFIX");
  if (s.s3_prefix.starts_with('/')) {
    throw config::config_error("S3_PREFIX=\"" + s.s3_prefix + "\" must not start with '/'");
  }
  if (!s.s3_prefix.empty() && !s.s3_prefix.ends_with('/')) s.s3_prefix += '/';
  s.s3_access_key = cfg.required_string("S3_ACCESS_KEY_ID");
  s.s3_secret_key = cfg.required_string("S3_SECRET_ACCESS_KEY");
  s.s3_path_style = cfg.boolean("S3_PATH_STYLE");
  s.s3_ca_file = cfg.optional_path("S3_CA_FILE");
  if (const auto days = cfg.optional_integer("S3_OBJECT_LOCK_DAYS", 1, 36500)) {
    s.s3_object_lock_days = static_cast<int>(*days);
  }
}

std::optional<double> request_rate(const config::config& cfg, std::string_view key) {
  const auto text = cfg.string(key);
  if (text == "off") return std::nullopt;
  const auto rate = parse_request_rate(text);
  if (!rate) {
    throw config::config_error(std::string(key) + "=\"" + text +
                               "\" is invalid: expected Nr/s or Nr/m (e.g. 20r/s), or off");
  }
  return rate;
}

}  // namespace

settings read_settings(const config::config& cfg) {
  settings s;
  s.listen_addr = cfg.ip_address("LISTEN_ADDR");
  s.port = static_cast<int>(cfg.integer("PORT", 0, 65535));
  s.storage_dir = cfg.required_string("STORAGE_DIR");
  s.backup_api_token = cfg.string("BACKUP_API_TOKEN");
  s.api_tokens_file = cfg.optional_path("API_TOKENS_FILE");
  s.max_upload_bytes = cfg.size("MAX_UPLOAD_BYTES", 1);
  s.min_free_bytes = cfg.size("MIN_FREE_BYTES");
  s.status_page = cfg.boolean("STATUS_PAGE");
  s.webhook = events::read_webhook_settings(cfg);
  s.append_only = cfg.boolean("APPEND_ONLY");
  s.keep_days = cfg.optional_integer("KEEP_DAYS", 0, 100000);
  s.keep_weeks = cfg.optional_integer("KEEP_WEEKS", 0, 100000);
  s.keep_months = cfg.optional_integer("KEEP_MONTHS", 0, 100000);
  s.pitr_keep_days = cfg.optional_integer("PITR_KEEP_DAYS", 1, 100000);
  if (cfg.raw("QUOTA_BYTES")) s.quota_bytes = cfg.size("QUOTA_BYTES", 1);
  s.max_concurrent_uploads = static_cast<int>(cfg.integer("MAX_CONCURRENT_UPLOADS", 1, 100000));
  s.idle_timeout = cfg.duration("IDLE_TIMEOUT");
  s.upload_expiry = cfg.duration("UPLOAD_EXPIRY");
  s.tls_cert_file = cfg.optional_path("TLS_CERT_FILE");
  s.tls_key_file = cfg.optional_path("TLS_KEY_FILE");
  s.tls_client_ca_file = cfg.optional_path("TLS_CLIENT_CA_FILE");
  if (s.tls_cert_file.has_value() != s.tls_key_file.has_value()) {
    throw config::config_error("TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }
  s.scrub_interval = cfg.duration("SCRUB_INTERVAL");
  s.scrub_rate = cfg.size("SCRUB_RATE");
  if (s.tls_client_ca_file && !s.tls_cert_file) {
    throw config::config_error("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE");
  }
  s.rate_limit = request_rate(cfg, "RATE_LIMIT");
  s.rate_burst = static_cast<int>(cfg.integer("RATE_BURST", 0, 1000000));
  s.auth_failure_limit = request_rate(cfg, "AUTH_FAILURE_LIMIT");
  // "10r/m": ten failures are allowed at once, and one more each six seconds.
  if (s.auth_failure_limit) {
    const auto text = cfg.string("AUTH_FAILURE_LIMIT");
    s.auth_failure_burst = std::stod(text.substr(0, text.find('r')));
  }
  s.max_connections_per_ip =
      static_cast<std::size_t>(cfg.integer("MAX_CONNECTIONS_PER_IP", 0, 1000000));
  if (cfg.raw("CLIENT_MAX_RATE")) s.client_max_rate = cfg.size("CLIENT_MAX_RATE", 1024);
  read_s3_settings(cfg, s);
  return s;
}

std::optional<double> parse_request_rate(std::string_view text) {
  // "20r/s", "600r/m": a positive whole number of requests per second or per minute.
  const auto r = text.find("r/");
  if (r == std::string_view::npos || r == 0 || text.size() != r + 3) return std::nullopt;
  const auto unit = text[r + 2];
  if (unit != 's' && unit != 'm') return std::nullopt;
  std::uint64_t n = 0;
  for (const char c : text.substr(0, r)) {
    if (c < '0' || c > '9' || n > 100000000) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n == 0) return std::nullopt;
  return static_cast<double>(n) / (unit == 'm' ? 60.0 : 1.0);
}

}  // namespace pgship::receiver
