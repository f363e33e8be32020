#include "pipeline/basebackup_stream.hpp"

#include <boost/asio/this_coro.hpp>

#include <pgship/common/io/filters.hpp>

namespace pgship::agent {

namespace net = boost::asio;

namespace {

// A libpq conninfo value, quoted: 'it''s' is written 'it\'s'.
std::string conninfo_value(const std::string& value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// The child's bytes into the chain, then the upload's pace: a full chunk waits for the one in
// flight before pg_basebackup's pipe is read again.
net::awaitable<std::error_code> feed_chain(io::sink& chain, tus_stream& upload,
                                           std::span<const char> data) {
  if (const auto ec = chain.write(data)) co_return ec;
  if (co_await upload.pace()) co_return std::make_error_code(std::errc::connection_aborted);
  co_return std::error_code{};
}

void log_stderr(const std::string& text, const log::context& lg) {
  const auto tool = lg.with({{"tool", "pg_basebackup"}});
  std::string_view rest(text);
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const auto line = rest.substr(0, nl);
    if (!line.empty()) tool.warn("{}", line);
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
}

}  // namespace

std::vector<std::string> pg_basebackup_args(const std::string& host, int port,
                                            const std::string& user) {
  const std::string conninfo = "host=" + conninfo_value(host) + " port=" + std::to_string(port) +
                               " user=" + conninfo_value(user) +
                               " application_name=pgship-basebackup";
  return {"-d",
          conninfo,
          "--no-password",
          "--format=tar",
          "--pgdata=-",
          "--wal-method=none",
          "--checkpoint=fast",
          "--manifest-checksums=SHA256",
          "--no-sync"};
}

net::awaitable<stage_error> stream_basebackup(http_client& client,
                                              const basebackup_stream_request& request,
                                              basebackup_stream_output& out) {
  tus_stream upload(co_await net::this_coro::executor, client, request.upload, request.watch);
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

  child_spec spec;
  spec.program = request.pg_basebackup.path;
  spec.args = pg_basebackup_args(request.host, request.port, request.login.user);
  if (!request.login.password.empty()) spec.env["PGPASSWORD"] = request.login.password;
  async_stdout_sink sink = [&chain, &upload](std::span<const char> data) {
    return feed_chain(chain, upload, data);
  };
  const auto result = co_await run_child_paced(spec, std::move(sink), request.handle);
  log_stderr(result.err, request.log);

  stage_error error;
  if (result.stopped) {
    error = fail(errc::cancelled, "pg_basebackup stopped: the run was cancelled");
  } else if (result.sink_error) {
    // The upload's own failure says more than the sink's code.
    error = co_await upload.pace();
    if (!error)
      error = fail(errc::internal, "compressing or encrypting the base backup: " +
                                       chain.describe(result.sink_error));
  } else if (!result.ok()) {
    const auto why = result.last_error_line();
    error = fail(errc::dump_failed, "pg_basebackup failed (" + result.describe() + ")" +
                                        (why.empty() ? "" : ": " + why));
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
