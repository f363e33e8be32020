#include "pipeline/backup_run.hpp"
#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <system_error>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/redact_url.hpp>
#include <pgship/common/time_text.hpp>

#include "net/receiver_api.hpp"
#include "net/retry_policy.hpp"
#include "pg_connection.hpp"
#include "pg_tools.hpp"
#include "pipeline/adopt.hpp"
#include "pipeline/archive.hpp"
#include "pipeline/backup_dir.hpp"
#include "pipeline/backup_prep.hpp"
#include "pipeline/dump.hpp"
#include "pipeline/globals.hpp"
#include "pipeline/local_commit.hpp"
#include "pipeline/local_room.hpp"
#include "pipeline/manifest.hpp"
#include "pipeline/manifest_upload.hpp"
#include "pipeline/rotate.hpp"
#include "pipeline/row_counts.hpp"
#include "pipeline/stream_upload.hpp"
#include "pipeline/timescaledb_pause.hpp"
#include "pipeline/upload.hpp"
#include "pipeline/verify.hpp"

namespace pgship::agent {
namespace {

namespace net = boost::asio;
namespace stdfs = std::filesystem;
using sys_clock = std::chrono::system_clock;

class database_backup {
 public:
  database_backup(const settings& cfg, const run_request& request, run_control& control,
                  const std::string& run_id, http_client* client, const stage_error& upload_blocked,
                  std::map<int, pg_toolset>& tools_by_major, database_run& run)
      : cfg_(cfg),
        request_(request),
        control_(control),
        run_id_(run_id),
        client_(client),
        upload_blocked_(upload_blocked),
        tools_by_major_(tools_by_major),
        run_(run),
        receiver_(redact_url(cfg.backup_api_url)),
        log_{{"run_id", run_id}, {"database", run.database}} {}

  net::awaitable<stage_error> go() {
    preflight_output pre;
    {
      auto clock = start_stage("preflight");
      auto error = co_await preflight(cfg_, run_.database, tools_by_major_, pre);
      clock.done(0, !error);
      if (error) co_return error;
    }
    run_.server_version = pre.server_version;
    run_.pg_dump_version = pre.tools.dump.version;
    run_.database_size = pre.database_size;
    log_.info("database {} is {} bytes on PostgreSQL {}; dumping with pg_dump {}", run_.database,
              pre.database_size, pre.server_version, pre.tools.dump.version);
    if (control_.stopping()) co_return fail(errc::cancelled, "the run was cancelled");
    if (auto error = co_await make_room()) co_return error;

    manifest m;
    const auto extension = stored_format_of(cfg_).extension(".dump");
    m.name = co_await fresh_name(cfg_, run_.database, extension);
    run_.backup = m.name;
    m.database = run_.database;
    m.pg_dump_version = pre.tools.dump.version;
    m.server_version = pre.server_version;
    m.database_size = pre.database_size;
    m.compression = cfg_.compression;
    m.compress_level = cfg_.compression == "pg_dump" ? cfg_.compress_level : 0;
    m.agent_host = host_name();
    m.run_id = run_id_;
    m.started = format_utc(sys_clock::now());
    const auto partial = cfg_.backup_dir / ".partial" / m.name;

    // The upload runs while pg_dump writes, and commits only once the dump verified.
    if (cfg_.upload && client_ != nullptr && !upload_blocked_) {
      const auto executor = co_await net::this_coro::executor;
      follower_ = std::make_unique<follow_upload>(
          *client_, upload_request_for(cfg_, m, partial, log_), control_, executor);
      const bool following = co_await follower_->begin();
      if (!following) follower_.reset();
    }
    if (auto error = co_await dump_verify_commit(pre, partial, m)) {
      if (follower_) co_await follower_->abandon();  // nothing of it is committed
      co_return error;
    }
    if (control_.stopping()) {
      if (follower_) co_await follower_->abandon();
      co_return fail(errc::cancelled, "the run was cancelled");
    }

    // The old tool's dumps of this database join the backups to ship and rotate.
    // Named first: GCC 12 destroys an aggregate temporary inside co_await twice.
    adopt_request adopt;
    adopt.dir = cfg_.backup_dir;
    adopt.database = run_.database;
    adopt.pg_restore = pre.tools.restore;
    adopt.upload = cfg_.upload;
    adopt.receiver = receiver_;
    adopt.run_id = run_id_;
    adopt.log = log_;
    adopt.stopping = [this] { return control_.stopping(); };
    adopt_output adopted;
    co_await adopt_old_backups(adopt, adopted);

    stage_error upload_error;
    if (cfg_.upload) {
      upload_error = co_await upload(m);
      if (!upload_error) co_await ship_earlier(m.name);
    }
    // Rotation runs even when the upload failed: it never deletes a backup that is not on
    // the receiver, and it keeps the disk in bounds through a receiver outage.
    auto rotate_error = rotate();
    co_return upload_error ? upload_error : rotate_error;
  }

  // An ARCHIVE_DIRS directory: tar, verify, commit, upload, rotate, like a dump.
  net::awaitable<stage_error> go_archive(const archive_dir& dir) {
    const auto format = stored_format_of(cfg_);
    const bool zstd = format.zstd;
    manifest m;
    const auto extension = format.extension(".tar");
    m.name = co_await fresh_name(cfg_, dir.name, extension);
    run_.backup = m.name;
    m.database = dir.name;
    m.compression = zstd ? "zstd" : "none";
    m.compress_level = 0;
    m.agent_host = host_name();
    m.run_id = run_id_;
    m.started = format_utc(sys_clock::now());
    if (auto error = co_await make_room()) co_return error;
    const auto partial = cfg_.backup_dir / ".partial" / m.name;
    archive_output out;
    {
      auto clock = start_stage("dump");
      archive_request ar;
      ar.directory = dir.path;
      ar.output = partial;
      ar.format = format;
      ar.handle = control_.child;
      ar.log = log_;
      auto error = co_await run_archive(ar, out);
      clock.done(out.bytes, !error);
      if (error) co_return error;
    }
    {
      auto clock = start_stage("verify");
      // An encrypted archive was listed from a tee while written; the agent cannot read it.
      stage_error error;
      if (!format.encrypted()) {
        error = co_await verify_archive(partial, zstd, out.digest, out);
      } else if (!out.listed) {
        error = fail(errc::verify_failed, out.list_problem);
      }
      clock.done(format.encrypted() ? 0 : out.bytes, !error);
      if (error) {
        std::error_code ignored;
        stdfs::remove(partial, ignored);
        co_return error;
      }
    }
    run_.size = out.bytes;
    run_.sha256 = to_hex(out.digest);
    log_.info("archived {} ({} entries, {} bytes), sha256 {}", dir.path.string(), out.entries,
              out.bytes, run_.sha256);
    m.size = out.bytes;
    m.sha256 = run_.sha256;
    if (zstd || format.encrypted()) {
      m.plaintext_sha256 = to_hex(out.plain_digest);
      m.plaintext_size = out.plain_bytes;
    }
    m.encryption_recipients = recipient_texts(format);
    m.finished = format_utc(sys_clock::now());
    m.upload.state = cfg_.upload ? upload_state::pending : upload_state::skipped;
    if (cfg_.upload) m.upload.receiver = receiver_;
    if (auto error = commit_local_backup(cfg_.backup_dir, partial, m, log_)) co_return error;
    if (control_.stopping()) co_return fail(errc::cancelled, "the run was cancelled");
    stage_error upload_error;
    if (cfg_.upload) {
      upload_error = co_await upload(m);
      if (!upload_error) co_await ship_earlier(m.name);
    }
    auto rotate_error = rotate();
    co_return upload_error ? upload_error : rotate_error;
  }

  // GLOBALS: the cluster's roles and tablespaces (pg_dumpall --globals-only, connected through
  // `via`, a database of POSTGRES_DB), committed, uploaded with the earlier ones still
  // unshipped, and rotated like a database's dumps: a kind of its own (`.sql`).
  net::awaitable<stage_error> go_globals(const std::string& via) {
    preflight_output pre;
    pg_tool dumpall;
    {
      auto clock = start_stage("preflight");
      auto error = co_await preflight(cfg_, via, tools_by_major_, pre);
      if (!error) error = co_await find_pg_dumpall(pre.tools.dump, dumpall);
      clock.done(0, !error);
      if (error) co_return error;
    }
    run_.server_version = pre.server_version;
    run_.pg_dump_version = dumpall.version;
    const auto format = stored_format_of(cfg_);
    manifest m;
    const auto extension = format.extension(base_extension(backup_kind::globals));
    m.name = co_await fresh_name(cfg_, run_.database, extension);
    run_.backup = m.name;
    m.database = run_.database;
    m.kind = to_string(backup_kind::globals);
    m.pg_dump_version = dumpall.version;
    m.server_version = pre.server_version;
    m.compression = format.zstd ? "zstd" : "none";
    m.compress_level = 0;
    m.agent_host = host_name();
    m.run_id = run_id_;
    m.started = format_utc(sys_clock::now());
    const auto partial = cfg_.backup_dir / ".partial" / m.name;
    globals_output out;
    {
      auto clock = start_stage("dump");
      globals_request gr;
      gr.login = {cfg_.postgres_host, cfg_.postgres_port, cfg_.postgres_user,
                  cfg_.postgres_password, via};
      gr.pg_dumpall = dumpall;
      gr.output = partial;
      gr.format = format;
      gr.handle = control_.child;
      gr.log = log_;
      auto error = co_await run_globals(gr, out);
      clock.done(out.bytes, !error);
      if (error) co_return error;
    }
    // Checked as it passed (exit 0, the trailer), and hashed as written.
    start_stage("verify").done(out.plain_bytes, true);
    run_.size = out.bytes;
    run_.sha256 = to_hex(out.digest);
    log_.info("dumped the globals ({} roles, {} bytes), sha256 {}", out.roles.size(), out.bytes,
              run_.sha256);
    m.size = out.bytes;
    m.sha256 = run_.sha256;
    if (format.zstd || format.encrypted()) {
      m.plaintext_sha256 = to_hex(out.plain_digest);
      m.plaintext_size = out.plain_bytes;
    }
    m.roles = out.roles;
    m.role_passwords = out.role_passwords;
    m.encryption_recipients = recipient_texts(format);
    m.finished = format_utc(sys_clock::now());
    m.upload.state = cfg_.upload ? upload_state::pending : upload_state::skipped;
    if (cfg_.upload) m.upload.receiver = receiver_;
    if (auto error = commit_local_backup(cfg_.backup_dir, partial, m, log_)) co_return error;
    if (control_.stopping()) co_return fail(errc::cancelled, "the run was cancelled");
    stage_error upload_error;
    if (cfg_.upload) {
      upload_error = co_await upload(m);
      if (!upload_error) co_await ship_earlier(m.name);
    }
    auto rotate_error = rotate();
    co_return upload_error ? upload_error : rotate_error;
  }

 private:
  // Dump (with the upload following it), verify, and commit locally.
  net::awaitable<stage_error> dump_verify_commit(const preflight_output& pre,
                                                 const stdfs::path& partial, manifest& m) {
    dump_output dumped;
    {
      auto clock = start_stage("dump");
      const pg_login login{cfg_.postgres_host, cfg_.postgres_port, cfg_.postgres_user,
                           cfg_.postgres_password, run_.database};
      dump_request dr{login,          pre.tools.dump, m.compress_level,        partial,
                      control_.child, log_,           &control_.progress.bytes};
      dr.format = stored_format_of(cfg_);
      if (follower_) dr.on_stored = [f = follower_.get()](std::uint64_t n) { f->grew(n); };
      dr.list_with = pre.tools.restore;
      if (cfg_.timescaledb_jobs_during_dump == "pause") {
        pause_ = co_await timescaledb_pause::begin(login, log_);
      }
      // Exact counts come from the snapshot pg_dump dumps, counted while it runs.
      std::unique_ptr<snapshot_counter> counter;
      if (cfg_.row_counts == "exact") {
        stage_error snap_error;
        counter = snapshot_counter::begin(login, snap_error);
        if (snap_error) {
          // The backup matters more than its counts: dump as before, say what is missing.
          log_.warn("no row counts in the manifest: {}", snap_error.message);
        } else {
          dr.snapshot = counter->snapshot();
          const auto executor = co_await net::this_coro::executor;
          counter->start(executor);
        }
      }
      auto error = co_await dump_with_follower(dr, dumped);
      if (counter) {
        if (error) counter->cancel();
        std::vector<table_rows> counted;
        database_facts facts;
        const auto count_error = co_await counter->finish(counted, facts);
        if (!error && count_error) {
          // The backup stands; only the counts a drill would compare with are missing.
          log_.warn("no row counts in the manifest: {}", count_error.message);
        } else if (!error) {
          m.row_counts = "exact";
          m.tables = std::move(counted);
          m.extensions = std::move(facts.extensions);
          m.timescaledb = std::move(facts.timescaledb);
          for (const auto& t : m.tables) {
            if (!t.error.empty()) log_.warn("cannot count {}.{}: {}", t.schema, t.name, t.error);
          }
        }
      }
      if (!error && m.extensions.empty()) describe_without_snapshot(login, m);
      clock.done(dumped.bytes, !error);
      if (error) co_return error;
    }
    run_.size = dumped.bytes;
    run_.sha256 = to_hex(dumped.digest);
    log_.info("dumped {} bytes, sha256 {}", dumped.bytes, run_.sha256);
    if (request_.hooks.after_dump) request_.hooks.after_dump(partial);

    {
      auto clock = start_stage("verify");
      verify_output verified;
      verify_expect expect;
      expect.stored = dumped.digest;
      if (cfg_.compression == "zstd") expect.plain = dumped.plain_digest;
      stage_error error;
      // Listed from the tee while dumping, and hashed as written: nothing is read again
      // (the receiver checks the same sha256 before it commits). Only a tee that could not
      // keep up falls back to reading the file back, which an encrypted file does not allow.
      if (dumped.listed) {
        verified.toc_entries = dumped.toc_entries;
      } else if (!dumped.list_gave_up) {
        error = fail(errc::restore_list_failed, dumped.list_problem);
      } else if (!cfg_.encrypt_recipients.empty()) {
        error = fail(errc::restore_list_failed,
                     dumped.list_problem +
                         ", and the agent holds no identity to read the encrypted file back");
      } else {
        error = co_await run_verify(partial, expect, pre.tools.restore, verified);
      }
      clock.done(verified.bytes_read, !error);
      if (error) {
        std::error_code ignored;
        stdfs::remove(partial, ignored);
        co_return error;
      }
      if (dumped.listed) {
        log_.info("verified while dumping: pg_restore lists {} entries", verified.toc_entries);
      } else {
        log_.info("verified: sha256 read back matches, pg_restore lists {} entries",
                  verified.toc_entries);
      }
    }

    m.size = dumped.bytes;
    m.sha256 = run_.sha256;
    if (cfg_.compression == "zstd" || !cfg_.encrypt_recipients.empty()) {
      m.plaintext_sha256 = to_hex(dumped.plain_digest);
      m.plaintext_size = dumped.plain_bytes;
    }
    m.encryption_recipients = recipient_texts(stored_format_of(cfg_));
    m.finished = format_utc(sys_clock::now());
    m.upload.state = cfg_.upload ? upload_state::pending : upload_state::skipped;
    if (cfg_.upload) m.upload.receiver = receiver_;
    // Should the agent die before the upload that followed the dump ends, the next run goes
    // on with that upload from where the receiver stands.
    if (follower_ && !follower_->failed()) m.upload.resume_at = follower_->location();
    co_return commit_local_backup(cfg_.backup_dir, partial, m, log_);
  }

  // Estimated counts (ROW_COUNTS=estimate) and the extensions, read after the dump when no
  // snapshot of it was held open.
  void describe_without_snapshot(const pg_login& login, manifest& m) {
    stage_error error;
    auto conn = pg_connection::open(login, error);
    database_facts facts;
    if (!error) error = read_database_facts(conn, facts);
    if (error) {
      log_.warn("the manifest lacks the database's extensions: {}", error.message);
    } else {
      m.extensions = std::move(facts.extensions);
      m.timescaledb = std::move(facts.timescaledb);
    }
    if (cfg_.row_counts != "estimate" || error) return;
    if (const auto est_error = estimate_rows(conn, m.tables)) {
      log_.warn("no row estimates in the manifest: {}", est_error.message);
    } else {
      m.row_counts = "estimate";
    }
  }

  // The dump, and the upload following it when there is one.
  net::awaitable<stage_error> dump_with_follower(const dump_request& dr, dump_output& dumped) {
    if (!follower_) co_return co_await dump_then_resume_jobs(dr, dumped);
    auto* follower = follower_.get();
    auto dump_task = [&]() -> net::awaitable<stage_error> {
      auto error = co_await dump_then_resume_jobs(dr, dumped);
      follower->dump_ended();
      co_return error;
    };
    auto follow_task = [follower]() -> net::awaitable<void> { co_await follower->follow(); };
    const auto executor = co_await net::this_coro::executor;
    auto dump_op = net::co_spawn(executor, dump_task(), net::deferred);
    auto follow_op = net::co_spawn(executor, follow_task(), net::deferred);
    auto [order, e1, error, e2] =
        co_await net::experimental::make_parallel_group(std::move(dump_op), std::move(follow_op))
            .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
    (void)order;
    if (e1) std::rethrow_exception(e1);
    if (e2) std::rethrow_exception(e2);
    co_return error;
  }

  // pg_dump's locks go when it exits: TimescaleDB's jobs may start again from then on.
  net::awaitable<stage_error> dump_then_resume_jobs(const dump_request& dr, dump_output& dumped) {
    auto error = co_await run_dump(dr, dumped);
    if (pause_) co_await pause_->end();
    co_return error;
  }

  // A database, an ARCHIVE_DIRS directory and the globals may share a name, never a kind.
  backup_kind kind() const {
    if (run_.globals) return backup_kind::globals;
    return run_.archive ? backup_kind::archive : backup_kind::dump;
  }

  // BACKUP_DIR too full after a long outage: the backups waiting for the receiver go first, and
  // rotation may then remove them, so a full disk never blocks the very catch-up that frees it.
  net::awaitable<stage_error> make_room() {
    auto error = check_local_room(cfg_.backup_dir, run_.database, kind(), cfg_.backup_dir_min_free);
    if (!error || !cfg_.upload || client_ == nullptr || upload_blocked_) co_return error;
    log_.warn("{}; shipping the backups that wait for the receiver first", error.message);
    co_await ship_earlier("");
    if (auto rotate_error = rotate()) co_return rotate_error;
    co_return check_local_room(cfg_.backup_dir, run_.database, kind(), cfg_.backup_dir_min_free);
  }

  stage_clock start_stage(const char* name) {
    control_.progress.begin(run_.database, name);
    return stage_clock(run_.stages, name);
  }

  net::awaitable<stage_error> upload(manifest& m) {
    auto clock = start_stage("upload");
    if (upload_blocked_) {
      // The backup stands locally, unshipped and so never rotated away; the next run that
      // reaches the receiver ships it. The run still fails, so alerts fire.
      clock.done(0, false);
      m.upload.state = upload_state::failed;
      m.upload.error = upload_blocked_.message;
      if (const auto ec = write_manifest(cfg_.backup_dir, m)) {
        log_.warn("cannot record the failed upload of {} in its manifest: {}", m.name,
                  ec.message());
      }
      log_.warn("{} is kept locally and not uploaded: {}; a later run ships it", m.name,
                upload_blocked_.message);
      co_return upload_blocked_;
    }
    auto error = co_await ship(m, run_.upload);
    clock.done(run_.upload.bytes_sent, !error);
    if (!error) {
      run_.uploaded = true;
      log_.info("uploaded to {}: {} bytes sent, {} retries, {} resumes{}",
                client_->endpoint().origin(), run_.upload.bytes_sent, run_.upload.retries,
                run_.upload.resumes, run_.upload.already_stored ? " (already stored)" : "");
    }
    co_return error;
  }

  // Uploads one local backup and records the outcome in its manifest.
  net::awaitable<stage_error> ship(manifest& m, upload_output& out) {
    auto ur = upload_request_for(cfg_, m, cfg_.backup_dir / m.name, log_);
    // An upload left unfinished on this same receiver by an earlier run goes on from there.
    if (m.upload.receiver == receiver_) ur.resume_at = m.upload.resume_at;
    // The upload that followed this backup's dump needs only its last piece; if that fails,
    // the regular upload (with its retries) sends the backup again.
    bool streamed = false;
    if (follower_ && m.name == run_.backup) {
      streamed = co_await follower_->finish(ur.file, m.size, m.sha256, out);
      follower_.reset();
      if (streamed) log_.info("uploaded while dumping; committed after verify");
      if (!streamed && !out.location.empty()) ur.resume_at = out.location;
    }
    stage_error error;
    if (!streamed) error = co_await run_upload(*client_, ur, control_, out);
    m.upload.receiver = receiver_;
    m.upload.bytes_sent = out.bytes_sent;
    m.upload.retries = out.retries;
    m.upload.resumes = out.resumes;
    if (error) {
      m.upload.state = upload_state::failed;
      m.upload.error = error.message;
      m.upload.resume_at = out.location;
    } else {
      m.upload.state = upload_state::uploaded;
      m.upload.finished = format_utc(sys_clock::now());
      m.upload.error.clear();
      m.upload.resume_at.clear();
    }
    if (const auto ec = write_manifest(cfg_.backup_dir, m); ec && !error) {
      // The backup is on the receiver; only the local record of that is missing. Rotation
      // will treat it as not uploaded, which errs on the safe side.
      log_.warn("cannot record the upload of {} in its manifest: {}", m.name, ec.message());
    }
    // The manifest goes up beside the backup, for restores and drills on any host; the backup
    // stands without it.
    if (!error) {
      if (const auto manifest_error = co_await ship_manifest(*client_, cfg_.backup_api_token, m)) {
        log_.warn("the manifest of {} is not on the receiver: {}", m.name, manifest_error.message);
      }
    }
    co_return error;
  }

  // Backups of this database whose upload failed in earlier runs (receiver down, token
  // rejected) go now that the receiver takes uploads again, oldest first; the first failure
  // ends the catch-up until the next run.
  net::awaitable<void> ship_earlier(const std::string& current) {
    auto waiting = list_local_backups(cfg_.backup_dir, run_.database, kind());
    std::sort(waiting.begin(), waiting.end(),
              [](const auto& a, const auto& b) { return a.taken < b.taken; });
    for (const auto& b : waiting) {
      const bool not_shipped =
          b.upload == upload_state::pending || b.upload == upload_state::failed;
      if (b.name == current || !not_shipped || control_.stopping()) continue;
      auto m = read_manifest(manifest_path(cfg_.backup_dir, b.name));
      if (!m) continue;  // without its manifest its checksum is unknown: left for a person
      upload_output out;
      const auto error = co_await ship(*m, out);
      if (error) {
        log_.warn("earlier backup {} is still not uploaded: {}", b.name, error.message);
        co_return;
      }
      run_.shipped_late.push_back(b.name);
      log_.info("uploaded earlier backup {} ({} bytes sent)", b.name, out.bytes_sent);
    }
  }

  stage_error rotate() {
    auto clock = start_stage("rotate");
    const auto rule = local_rotation_rule(cfg_);
    rotate_output out;
    auto error = rotate_local(cfg_.backup_dir, run_.database, kind(), rule, sys_clock::now(), out);
    clock.done(0, !error);
    run_.rotated = out.removed;
    run_.local_backups = out.kept;
    for (const auto& name : out.removed)
      log_.info("rotated away {}", name);
    if (out.kept_not_uploaded > 0) {
      log_.warn("kept {} old backups beyond the rotation rule: their upload has not succeeded",
                out.kept_not_uploaded);
    }
    return error;
  }

  const settings& cfg_;
  const run_request& request_;
  run_control& control_;
  const std::string& run_id_;
  http_client* client_;
  const stage_error& upload_blocked_;  // why this run cannot upload; empty when it can
  std::map<int, pg_toolset>& tools_by_major_;
  database_run& run_;
  // BACKUP_API_URL as manifests record it (they are logged and shipped): no password in it.
  const std::string receiver_;
  log::context log_;
  std::unique_ptr<follow_upload> follower_;   // the upload running while this backup dumps
  std::shared_ptr<timescaledb_pause> pause_;  // TimescaleDB jobs held off while pg_dump runs
};

// Whether this client can upload now. A receiver restarting just as the run begins must not
// keep the whole run local: an unreachable one is asked again with the upload's backoff.
net::awaitable<stage_error> ask_until_answered(http_client& client, const settings& cfg,
                                               run_control& control, const log::context& lg) {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int retry = 1;; ++retry) {
    auto error = co_await check_receiver_takes_uploads(client, cfg.backup_api_token);
    if (error.code != make_error_code(errc::receiver_unreachable) || retry > cfg.max_retries) {
      co_return error;
    }
    const auto delay = backoff_delay(cfg.retry_delay, retry, unit(rng));
    lg.warn("asking the receiver again, retry {} of {} in {:.1f} s: {}", retry, cfg.max_retries,
            static_cast<double>(delay.count()) / 1000.0, error.message);
    if (!co_await sleep_unless_stopped(delay, control)) co_return error;
  }
}

}  // namespace

net::awaitable<run_record> run_backup(const settings& cfg, const run_request& request,
                                      run_control& control) {
  run_record run;
  run.started = sys_clock::now();
  run.run_id = request.run_id.empty() ? new_run_id(run.started) : request.run_id;
  run.trigger = request.trigger;
  const auto databases = request.databases.empty() ? cfg.databases : request.databases;
  const log::context lg{{"run_id", run.run_id}};
  const auto run_log = open_run_log(cfg, run.run_id, run.log_file);
  lg.info("backup run started ({}): {} database(s)", run.trigger, databases.size());
  for (const auto& db : databases)
    run.databases.push_back(database_run{.database = db});

  const auto finish = [&run](stage_error error) { return finish_run(run, std::move(error)); };

  if (auto error = prepare_backup_dir(cfg.backup_dir)) co_return finish(std::move(error));
  run_lock lock;
  if (auto error = lock.acquire(cfg.backup_dir)) co_return finish(std::move(error));

  const auto partial_dir = cfg.backup_dir / ".partial";
  const int stale = remove_stale_partials(partial_dir, stdfs::file_time_type::clock::now());
  if (stale > 0)
    lg.warn("removed {} leftover file(s) of interrupted runs from {}", stale, partial_dir.string());

  std::unique_ptr<http_client> client;
  stage_error upload_blocked;
  if (cfg.upload) {
    client = make_receiver_client(co_await net::this_coro::executor, cfg);
    if (!client) {
      co_return finish(fail(errc::config_invalid, "BACKUP_API_URL is not an http(s) URL"));
    }
    // Asked for this client, not receiver-wide /health: another client's trouble or a scrub
    // finding must not stop this one. Whatever the answer, the local backups are made.
    upload_blocked = co_await ask_until_answered(*client, cfg, control, lg);
    if (upload_blocked) {
      lg.warn("backups stay local this run: {}", upload_blocked.message);
    }
  }

  std::map<int, pg_toolset> tools_by_major;
  for (auto& d : run.databases) {
    if (control.stopping()) {
      d.error = fail(errc::cancelled, "the run was cancelled");
    } else {
      database_backup backup(cfg, request, control, run.run_id, client.get(), upload_blocked,
                             tools_by_major, d);
      d.error = co_await backup.go();
    }
    note_database_error(run, d, lg, "backup");
  }
  // GLOBALS (roles, tablespaces), when the run is for every database.
  if (cfg.globals && request.databases.empty() && !databases.empty()) {
    auto& d = run.databases.emplace_back(database_run{.database = std::string(globals_name)});
    d.globals = true;
    if (control.stopping()) {
      d.error = fail(errc::cancelled, "the run was cancelled");
    } else {
      database_backup backup(cfg, request, control, run.run_id, client.get(), upload_blocked,
                             tools_by_major, d);
      d.error = co_await backup.go_globals(databases.front());
    }
    note_database_error(run, d, lg, "globals backup");
  }
  // The directories of ARCHIVE_DIRS, when the run is not for some databases only.
  // Named first: GCC 12 mishandles a temporary range across the co_await in the loop.
  const auto archives = request.databases.empty() ? cfg.archive_dirs : std::vector<archive_dir>{};
  for (const auto& dir : archives) {
    auto& d = run.databases.emplace_back(database_run{.database = dir.name});
    d.archive = true;
    if (control.stopping()) {
      d.error = fail(errc::cancelled, "the run was cancelled");
    } else {
      database_backup backup(cfg, request, control, run.run_id, client.get(), upload_blocked,
                             tools_by_major, d);
      d.error = co_await backup.go_archive(dir);
    }
    note_database_error(run, d, lg, "archive");
  }
  co_return finish(stage_error{});
}

}  // namespace pgship::agent
