#pragma once
// The receiver's configuration keys (DESIGN.md "Receiver keys") and their typed values.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <pgship/common/config.hpp>
#include <pgship/common/events/webhook_settings.hpp>

namespace pgship::receiver {

std::span<const config::key_spec> config_schema();

struct settings {
  std::string listen_addr;
  int port = 9101;
  std::filesystem::path storage_dir;
  std::string backup_api_token;
  std::optional<std::filesystem::path> api_tokens_file;
  std::uint64_t max_upload_bytes = 0;
  std::uint64_t min_free_bytes = 0;
  bool append_only = false;
  std::optional<std::int64_t> keep_days, keep_weeks, keep_months;
  std::optional<std::int64_t> pitr_keep_days;  // the point-in-time window, per client
  std::optional<std::uint64_t> quota_bytes;
  int max_concurrent_uploads = 64;
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds upload_expiry{24 * 3600 * 1000};
  std::optional<std::filesystem::path> tls_cert_file, tls_key_file, tls_client_ca_file;
  std::chrono::milliseconds scrub_interval{7 * 24 * 3600 * 1000LL};  // 0: no scheduled scrub
  std::uint64_t scrub_rate = 100 * 1000 * 1000;  // bytes/s; 0: no scheduled scrub
  std::optional<double> rate_limit = 20.0;       // requests/s per token and per IP; off: none
  int rate_burst = 50;
  std::optional<double> auth_failure_limit = 10.0 / 60;      // failed logins/s per IP
  double auth_failure_burst = 10;                            // failures allowed at once
  std::size_t max_connections_per_ip = 128;                  // 0: no limit
  std::optional<std::uint64_t> client_max_rate;              // upload bytes/s per client
  bool s3 = false;                                           // STORAGE_BACKEND=s3
  std::string s3_endpoint, s3_region, s3_bucket, s3_prefix;  // prefix: "" or ends in '/'
  std::string s3_access_key, s3_secret_key;
  bool s3_path_style = true;
  std::optional<std::filesystem::path> s3_ca_file;
  std::optional<int> s3_object_lock_days;
  bool status_page = true;           // GET / serves the status page
  events::webhook_settings webhook;  // WEBHOOK_*: the receiver's own events
};

/// "20r/s" → 20, "10r/m" → 1/6; nullopt unless a positive whole number of r/s or r/m.
std::optional<double> parse_request_rate(std::string_view text);

/// Reads and validates every key. Throws config_error naming the first bad key.
settings read_settings(const config::config& cfg);

}  // namespace pgship::receiver
