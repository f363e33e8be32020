#include "pipeline/basebackup_stream.hpp"

#include <boost/asio/this_coro.hpp>

#include <pgship/common/io/filters.hpp>

#include "pg_async.hpp"
#include "pipeline/basebackup_copy_stream.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

// The checkpoint BASE_BACKUP starts with may take long on a busy server (a fast checkpoint
// still writes every dirty buffer): the COPY has begun long before this, or something is
// wrong.
constexpr auto checkpoint_wait = std::chrono::hours(2);

// The tablespaces BASE_BACKUP lists before its COPY: a row with an OID is one besides
// pg_default, whose archive would be a second tar.
bool has_other_tablespaces(const std::vector<pg_table>& results) {
  for (const auto& r : results) {
    if (r.columns.empty() || r.columns[0] != "spcoid") continue;
    for (const auto& row : r.rows)
      if (!row.empty() && row[0]) return true;
  }
  return false;
}

// A failure of the server's, with its own words, as a dump's is; the connection's own
// failures (auth, unreachable) keep their codes.
stage_error server_failure(stage_error e, const pg_async& conn) {
  if (e.code == errc::cancelled || conn.last_sqlstate().empty()) return e;
  return fail(errc::dump_failed, "BASE_BACKUP failed: " + e.message);
}

struct copy_outcome {
  stage_error error;
  bool stopped = false;
};

// The COPY's messages into the tar builder, each followed by the upload's pace: a full chunk
// waits for the one in flight before the socket is read again, so a slow receiver slows the
// server down instead of filling memory.
net::awaitable<copy_outcome> copy_into(pg_async& conn, basebackup_copy_stream& tar,
                                       io::filter_group& chain, tus_stream& upload,
                                       const child_handle* handle) {
  copy_outcome out;
  std::string message;
  for (;;) {
    if (handle && handle->kill_requested()) {
      out.stopped = true;
      co_return out;
    }
    bool ended = false;
    if (auto e = co_await conn.read_copy(message, ended)) {
      out.stopped = handle && handle->kill_requested();
      out.error = server_failure(std::move(e), conn);
      co_return out;
    }
    if (ended) co_return out;
    if (const auto ec = tar.take(message)) {
      if (!tar.problem().empty()) {
        out.error = fail(errc::dump_failed, tar.problem());
      } else {
        // The upload's own failure says more than the sink's code.
        out.error = co_await upload.pace();
        if (!out.error)
          out.error = fail(errc::internal,
                           "compressing or encrypting the base backup: " + chain.describe(ec));
      }
      co_return out;
    }
    if (auto e = co_await upload.pace()) {
      out.error = std::move(e);
      co_return out;
    }
  }
}

}  // namespace

net::awaitable<stage_error> stream_basebackup(http_client& client,
                                              const basebackup_stream_request& request,
                                              basebackup_stream_output& out) {
  const auto ex = co_await net::this_coro::executor;
  tus_stream upload(ex, client, request.upload, request.watch);
  if (auto created = co_await upload.create()) co_return created;

  // Built from the upload backwards: stored hash, the codecs, progress, the tap. No hash of
  // the plaintext: PostgreSQL's backup manifest, inside the tar, has every file's SHA-256,
  // which a restore checks file by file, and a pass over every plain byte would cost more
  // than the upload (bench/basebackup.sh).
  io::filter_group chain(upload.sink());
  const auto& stored = chain.push_front<io::hash_filter>();
  io::push_write_stages(chain, request.format, request.codec);
  const auto& plain = chain.push_front<io::count_filter>(request.on_bytes);
  const auto& tap = chain.push_front<basebackup_tar_tap>();
  basebackup_copy_stream tar(chain);

  pg_async conn(ex);
  const std::shared_ptr<child_handle> handle = request.handle;
  if (handle) handle->attach([&conn] { conn.cancel(); });
  stage_error error;
  bool stopped = handle && handle->kill_requested();
  if (!stopped) {
    pg_async_options options;
    options.replication = true;
    options.application_name = "pgship-basebackup";
    pg_login login;
    login.host = request.host;
    login.port = request.port;
    login.user = request.login.user;
    login.password = request.login.password;
    login.replication = true;
    error = co_await conn.connect(login, options);
  }
  std::vector<pg_table> results;
  if (!error && !stopped) {
    request.log.debug("{}", base_backup_command(request.label));
    error = server_failure(
        co_await conn.exec(base_backup_command(request.label), results, checkpoint_wait), conn);
    if (!error && (results.empty() || results.back().status != pg_table::state::copy_out))
      error = fail(errc::dump_failed, "BASE_BACKUP did not start its COPY");
    if (!error && has_other_tablespaces(results)) {
      // Only one tar is shipped, and only the base archive holds the cluster's own files.
      error = fail(errc::dump_failed,
                   "the cluster has tablespaces besides pg_default: pgship's base backups copy "
                   "clusters without extra tablespaces only");
    }
  }
  if (!error && !stopped) {
    auto copied = co_await copy_into(conn, tar, chain, upload, handle.get());
    error = std::move(copied.error);
    stopped = copied.stopped;
  }
  // The end position's result and the command's completion; a server error in the middle of
  // the COPY arrives here too.
  if (!error && !stopped) error = server_failure(co_await conn.end_copy(results), conn);
  if (handle) {
    stopped = stopped || handle->kill_requested();
    handle->detach();
  }
  conn.close();

  if (stopped) error = fail(errc::cancelled, "the base backup stopped: the run was cancelled");
  if (!error) {
    if (const auto ec = tar.finish()) {
      error = tar.problem().empty()
                  ? fail(errc::internal, "finishing the base backup's tar: " + chain.describe(ec))
                  : fail(errc::dump_failed, tar.problem());
    }
  }
  if (!error) {
    if (const auto ec = chain.finish()) {
      error = fail(errc::internal, "finishing the base backup's stream: " + chain.describe(ec));
    } else if (!tap.problem().empty()) {
      error = fail(errc::dump_failed, tap.problem());
    }
  }
  if (!error) error = co_await upload.pace();
  if (!error) error = co_await upload.finish(to_hex(stored.digest()));
  out.bytes_sent = upload.bytes_sent();
  out.retries = upload.retries();
  out.resumes = upload.resumes();
  out.peak_held = upload.peak_held();
  if (error) {
    chain.abort();
    co_await upload.abandon();
    co_return error;
  }
  out.positions = tap.positions();
  out.bytes = stored.bytes();
  out.digest = stored.digest();
  out.plain_bytes = plain.bytes();
  co_return stage_error{};
}

}  // namespace pgship::agent
