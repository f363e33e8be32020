#include "settings.hpp"

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
    {"QUOTA_BYTES", "", false, "stored bytes per client; beyond it uploads get 507"},
    {"MAX_CONCURRENT_UPLOADS", "64", false, "beyond it 503 + Retry-After"},
    {"IDLE_TIMEOUT", "60s", false, "drop a connection that sends nothing this long"},
    {"UPLOAD_EXPIRY", "24h", false, "incomplete resumable uploads are removed after this"},
    {"TLS_CERT_FILE", "", false, "HTTPS certificate chain (PEM)"},
    {"TLS_KEY_FILE", "", false, "HTTPS private key (PEM)"},
    {"TLS_CLIENT_CA_FILE", "", false, "require client certificates signed by this CA"},
    {"SCRUB_INTERVAL", "7d", false, "re-hash every stored backup this often; 0 disables"},
    {"SCRUB_RATE", "100M", false, "bytes/s a scrub reads at most; 0 disables scheduled scrubs"},
    {"LOG_FORMAT", "text", false, "text or json"},
    {"LOG_LEVEL", "info", false, "trace, debug, info, warn, error"},
};

}  // namespace

std::span<const config::key_spec> config_schema() {
  return schema;
}

settings read_settings(const config::config& cfg) {
  settings s;
  s.listen_addr = cfg.ip_address("LISTEN_ADDR");
  s.port = static_cast<int>(cfg.integer("PORT", 0, 65535));
  s.storage_dir = cfg.required_string("STORAGE_DIR");
  s.backup_api_token = cfg.string("BACKUP_API_TOKEN");
  s.api_tokens_file = cfg.optional_path("API_TOKENS_FILE");
  s.max_upload_bytes = cfg.size("MAX_UPLOAD_BYTES", 1);
  s.min_free_bytes = cfg.size("MIN_FREE_BYTES");
  s.append_only = cfg.boolean("APPEND_ONLY");
  s.keep_days = cfg.optional_integer("KEEP_DAYS", 0, 100000);
  s.keep_weeks = cfg.optional_integer("KEEP_WEEKS", 0, 100000);
  s.keep_months = cfg.optional_integer("KEEP_MONTHS", 0, 100000);
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
  return s;
}

}  // namespace pgship::receiver
