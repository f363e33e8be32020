#include "pipeline/backup_prep.hpp"
#include <chrono>
#include <filesystem>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unistd.h>

#include <pgship/common/backup_name.hpp>

#include "pg_connection.hpp"
#include "repository/manifest.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace stdfs = std::filesystem;
using sys_clock = std::chrono::system_clock;

io::stored_format stored_format_of(const settings& cfg) {
  io::stored_format f;
  f.compress = io::compression_named(cfg.compression);
  if (!cfg.encrypt_recipients.empty()) f.encrypt = io::encryption::age;
  return f;
}

io::codec_settings codec_settings_of(const settings& cfg) {
  io::codec_settings c;
  c.zstd_level = cfg.zstd_level;
  c.zstd_threads = cfg.zstd_threads;
  c.recipients = cfg.encrypt_recipients;
  return c;
}

stored_bytes stored_bytes_of(const io::stored_format& format, const io::codec_settings& codec,
                             const stored_sums& sums) {
  stored_bytes out;
  out.size = sums.bytes;
  out.sha256 = to_hex(sums.digest);
  if (!format.as_produced()) {
    if (sums.plain_digest) out.plaintext_sha256 = to_hex(*sums.plain_digest);
    out.plaintext_size = sums.plain_bytes;
  }
  if (format.encrypted()) {
    for (const auto& r : codec.recipients)
      out.recipients.push_back(r.text);
  }
  return out;
}

net::awaitable<stage_error> preflight(const settings& cfg, const std::string& database,
                                      std::map<int, pg_toolset>& tools_by_major,
                                      preflight_output& out) {
  stage_error error;
  auto conn = pg_connection::open(
      {cfg.postgres_host, cfg.postgres_port, cfg.postgres_user, cfg.postgres_password, database},
      error);
  if (error) co_return error;
  const int version = conn.server_version_num();
  out.server_version = version_text(version);
  const auto size = conn.query_value("SELECT pg_database_size(current_database())", error);
  if (error) co_return error;
  out.database_size = std::stoull(*size);

  const int major = major_version(version);
  auto found = tools_by_major.find(major);
  if (found == tools_by_major.end()) {
    pg_toolset tools;
    const auto chosen = co_await choose_tools(cfg.pg_dump_path, major, tools);
    if (chosen) co_return chosen;
    found = tools_by_major.emplace(major, tools).first;
  }
  out.tools = found->second;
  co_return stage_error{};
}

net::awaitable<std::string> fresh_name(const settings& cfg, const std::string& database,
                                       std::string extension) {
  net::steady_timer timer(co_await net::this_coro::executor);
  for (;;) {
    auto name = format_backup_name(database, sys_clock::now(), extension);
    std::error_code ec;
    // The manifest is named by the stem: a .dump and a .dump.zst of one second would share it.
    if (!stdfs::exists(cfg.backup_dir / name, ec) &&
        !stdfs::exists(cfg.backup_dir / ".partial" / name, ec) &&
        !stdfs::exists(manifest_path(cfg.backup_dir, name), ec)) {
      co_return name;
    }
    timer.expires_after(std::chrono::milliseconds(250));
    co_await timer.async_wait(net::use_awaitable);
  }
}

upload_request upload_request_for(const settings& cfg, const manifest& m,
                                  const std::filesystem::path& file, const log::context& lg) {
  upload_request ur;
  ur.file = file;
  ur.name = m.name;
  ur.sha256_hex = m.sha256;
  ur.token = cfg.backup_api_token;
  ur.chunk_size = cfg.upload_chunk_size;
  ur.max_retries = cfg.max_retries;
  ur.retry_delay = cfg.retry_delay;
  ur.log = lg;
  return ur;
}

rotation_rule local_rotation_rule(const settings& cfg) {
  rotation_rule rule;
  rule.keep_newest = cfg.keep_local_backups;
  rule.gfs.keep_days = cfg.keep_days;
  rule.gfs.keep_weeks = cfg.keep_weeks;
  rule.gfs.keep_months = cfg.keep_months;
  rule.upload_required = cfg.upload;
  return rule;
}

}  // namespace pgship::agent
