#include "pipeline/basebackup_run.hpp"
#include <algorithm>
#include <chrono>
#include <memory>

#include <boost/asio/this_coro.hpp>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/host_name.hpp>
#include <pgship/common/redact_url.hpp>

#include "net/receiver_api.hpp"
#include "pg_connection.hpp"
#include "pipeline/backup_prep.hpp"
#include "pipeline/basebackup_stream.hpp"
#include "pipeline/basebackup_wal_wait.hpp"
#include "pipeline/manifest_upload.hpp"
#include "pipeline/run_skeleton.hpp"
#include "repository/manifest_builder.hpp"

namespace pgship::agent {

namespace net = boost::asio;
using sys_clock = std::chrono::system_clock;

namespace {

// A base backup holds its upload chunks in memory, which a dump (uploaded from its file) does
// not: half the usual zstd job size (about 12 MiB less with two workers) keeps the agent well
// within 64 MiB (bench/basebackup.sh, basebackup_memory_test).
constexpr int basebackup_zstd_job_size = 2 * 1024 * 1024;

// What the cluster says of itself before the backup.
struct cluster_facts {
  std::string server_version;
  int major = 0;
  std::string system_identifier;
  std::uint64_t segment_size = 0;
  std::uint64_t size = 0;
};

stage_error read_cluster(const settings& cfg, cluster_facts& out) {
  stage_error error;
  auto conn = pg_connection::open({cfg.postgres_host, cfg.postgres_port, cfg.postgres_user,
                                   cfg.postgres_password, cfg.databases.front()},
                                  error);
  if (error) return error;
  const int version = conn.server_version_num();
  out.server_version = version_text(version);
  out.major = major_version(version);
  if (out.major < 15) {
    // BASE_BACKUP's option list and its one COPY stream for every archive came with 15.
    return fail(errc::dump_failed,
                "base backups need PostgreSQL 15 or newer; the server is " + out.server_version);
  }
  const auto rows = conn.query_rows(
      "SELECT (SELECT system_identifier FROM pg_control_system())::text, "
      "pg_size_bytes(current_setting('wal_segment_size'))::text, "
      "(SELECT sum(pg_database_size(oid)) FROM pg_database)::bigint::text, "
      "(SELECT coalesce(string_agg(spcname, ', ' ORDER BY spcname), '') FROM pg_tablespace "
      "WHERE spcname NOT IN ('pg_default', 'pg_global'))",
      error);
  if (error) return error;
  const auto& row = rows->at(0);
  out.system_identifier = row.at(0);
  out.segment_size = std::stoull(row.at(1));
  out.size = std::stoull(row.at(2));
  if (!row.at(3).empty()) {
    // BASE_BACKUP sends one tar per tablespace, and only the base one is shipped.
    return fail(errc::dump_failed,
                "the cluster has tablespaces besides pg_default (" + row.at(3) +
                    "): pgship's base backups copy clusters without extra tablespaces only");
  }
  return {};
}

net::awaitable<stage_error> take_basebackup(const settings& cfg, run_control& control,
                                            http_client& client, const std::string& run_id,
                                            const log::context& lg, database_run& d) {
  cluster_facts facts;
  {
    control.progress.begin(d.database, "preflight");
    stage_clock clock(d.stages, "preflight");
    auto error = read_cluster(cfg, facts);
    clock.done(0, !error);
    if (error) co_return error;
  }
  d.server_version = facts.server_version;
  d.database_size = facts.size;

  const auto format = stored_format_of(cfg);
  auto codec = codec_settings_of(cfg);
  codec.zstd_job_size = basebackup_zstd_job_size;
  d.backup =
      co_await fresh_name(cfg, std::string(basebackup_name),
                          io::stored_extension(base_extension(backup_kind::basebackup), format));
  manifest_start start;
  start.name = d.backup;
  start.database = d.database;
  start.kind = to_string(backup_kind::basebackup);
  start.run_id = run_id;
  start.agent_host = host_name();
  start.started = sys_clock::now();
  start.compression = io::to_string(format.compress);
  start.compress_level = format.compress == io::compression::none ? 0 : cfg.zstd_level;
  start.server_version = facts.server_version;
  start.database_size = facts.size;
  start.receiver = redact_url(cfg.backup_api_url);
  auto m = new_manifest(start);
  lg.info("base backup {} of system {} started ({} bytes of databases)", d.backup,
          facts.system_identifier, facts.size);

  basebackup_stream_output streamed;
  {
    control.progress.begin(d.database, "stream", d.database_size);
    stage_clock clock(d.stages, "stream");
    basebackup_stream_request sr;
    sr.label = "pgship " + d.backup;
    sr.host = cfg.postgres_host;
    sr.port = cfg.postgres_port;
    sr.login = replication_credentials(cfg);
    sr.format = format;
    sr.codec = codec;
    sr.upload.name = d.backup;
    sr.upload.token = cfg.backup_api_token;
    sr.upload.max_retries = cfg.max_retries;
    sr.upload.retry_delay = cfg.retry_delay;
    sr.upload.log = lg;
    sr.handle = control.child;
    sr.watch.stopping = [&control] { return control.stopping(); };
    sr.watch.sent = [](std::size_t) {};
    sr.on_bytes = [&control](std::uint64_t bytes) { control.progress.bytes = bytes; };
    sr.log = lg;
    auto error = co_await stream_basebackup(client, sr, streamed);
    clock.done(streamed.bytes, !error);
    d.upload.bytes_sent = streamed.bytes_sent;
    d.upload.retries = streamed.retries;
    d.upload.resumes = streamed.resumes;
    if (error) co_return error;
  }
  // The mark's stop time: the COPY's end on this host's clock. The stop position was
  // written before it exited, so every recovery target from here on is past it (the agent
  // runs beside the database: its clock is the primary's, as the time map's is).
  const auto stopped_at = sys_clock::now();
  d.size = streamed.bytes;
  d.sha256 = to_hex(streamed.digest);
  d.uploaded = true;
  d.upload.size = streamed.bytes;
  const auto& pos = streamed.positions;
  lg.info(
      "base backup {} uploaded: {} bytes, sha256 {}, WAL {} to {} on timeline {} (at most {} "
      "bytes held for the upload)",
      d.backup, d.size, d.sha256, wal::format_lsn(*pos.start), wal::format_lsn(*pos.stop),
      pos.timeline, streamed.peak_held);

  {
    control.progress.begin(d.database, "wal");
    stage_clock clock(d.stages, "wal");
    // Its own connection, as the stream's wal_api has: the archive's state is small and asked
    // every few seconds.
    wal_api archive(make_receiver_client(co_await net::this_coro::executor, cfg),
                    cfg.backup_api_token, facts.system_identifier);
    wal_wait_request wr;
    wr.span = {pos.timeline, *pos.start, *pos.stop};
    wr.timeout = cfg.basebackup_wal_timeout;
    wr.stopping = [&control] { return control.stopping(); };
    auto error = co_await wait_for_wal(archive, wr);
    clock.done(0, !error);
    if (error) co_return error;
  }

  m.physical =
      physical_facts{facts.system_identifier,    pos.timeline,   wal::format_lsn(*pos.start),
                     wal::format_lsn(*pos.stop), pos.start_time, facts.segment_size,
                     pos.manifest_sha256};
  record_stored(m, stored_bytes_of(format, codec, streamed), sys_clock::now());
  m.upload.state = upload_state::uploaded;
  m.upload.finished = m.finished;
  m.upload.bytes_sent = streamed.bytes_sent;
  m.upload.retries = streamed.retries;
  m.upload.resumes = streamed.resumes;
  {
    control.progress.begin(d.database, "manifest");
    stage_clock clock(d.stages, "manifest");
    auto error = co_await ship_manifest(client, cfg.backup_api_token, m);
    clock.done(0, !error);
    if (error) co_return error;
  }
  {
    control.progress.begin(d.database, "mark");
    stage_clock clock(d.stages, "mark");
    wal_api archive(make_receiver_client(co_await net::this_coro::executor, cfg),
                    cfg.backup_api_token, facts.system_identifier);
    mark_request mr;
    mr.mark.id = d.backup;
    mr.mark.timeline = pos.timeline;
    mr.mark.start_lsn = *pos.start;
    mr.mark.stop_lsn = *pos.stop;
    mr.mark.stop_time_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(stopped_at.time_since_epoch())
            .count();
    mr.attempts = std::max(1, cfg.max_retries + 1);
    mr.delay = cfg.retry_delay;
    mr.stopping = [&control] { return control.stopping(); };
    auto error = co_await mark_complete(archive, mr);
    clock.done(0, !error);
    if (error) co_return error;
  }
  lg.info("base backup {} complete: the receiver holds its WAL up to {} and accepted its mark",
          d.backup, wal::format_lsn(*pos.stop));
  co_return stage_error{};
}

}  // namespace

net::awaitable<run_record> run_basebackup(const settings& cfg, const basebackup_request& request,
                                          run_control& control) {
  run_skeleton skeleton(cfg, control, "basebackup", request.run_id, request.trigger);
  auto& run = skeleton.record();
  const auto& lg = skeleton.log();
  lg.info("base backup run started ({})", run.trigger);
  run.databases.push_back(database_run{.database = std::string(basebackup_name)});
  if (!cfg.upload) {
    co_return skeleton.finish(fail(
        errc::config_invalid, "a base backup goes straight to the receiver: it needs UPLOAD=on"));
  }
  if (auto error = skeleton.lock_backup_dir()) co_return skeleton.finish(std::move(error));
  std::unique_ptr<http_client> client;
  if (auto error = co_await skeleton.open_receiver(client)) {
    co_return skeleton.finish(std::move(error));
  }
  auto& d = run.databases.front();
  auto work = take_basebackup(cfg, control, *client, run.run_id, lg, d);
  co_await skeleton.step(d, "base backup", std::move(work));
  co_return skeleton.finish();
}

}  // namespace pgship::agent
