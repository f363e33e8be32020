#include "pipeline/fetch_restore.hpp"
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fcntl.h>
#include <unistd.h>

#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/file_io.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/sha256.hpp>
#include <pgship/common/wire/paths.hpp>

#include "pg_tools.hpp"
#include "pipeline/pipe_feed.hpp"
#include "pipeline/timescaledb_restore.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace http = boost::beast::http;
namespace stdfs = std::filesystem;

namespace {

net::awaitable<stage_error> pick_pg_restore(const fetch_restore_io& io, const pg_login& login,
                                            pg_tool& out) {
  int major = 0;
  {
    stage_error error;
    auto conn = pg_connection::open(login, error);
    if (error) co_return error;
    major = major_version(conn.server_version_num());
  }
  pg_toolset tools;
  if (auto chosen = co_await choose_tools(io.pg_dump_path, major, tools)) co_return chosen;
  out = tools.restore;
  co_return stage_error{};
}

child_spec pg_restore_spec(const pg_tool& tool, const restore_target& target) {
  const auto& l = target.login;
  child_spec spec;
  spec.program = tool.path;
  spec.args = {"--no-password",        "--host=" + l.host,       "--port=" + std::to_string(l.port),
               "--username=" + l.user, "--dbname=" + l.database, "--exit-on-error"};
  if (target.jobs > 1) {
    spec.args.push_back("--jobs=" + std::to_string(target.jobs));
  } else {
    spec.args.push_back("--single-transaction");
  }
  if (target.clean) {
    spec.args.push_back("--clean");
    spec.args.push_back("--if-exists");
  }
  if (target.no_owner) spec.args.push_back("--no-owner");
  spec.env = {{"PGAPPNAME", "pgship-agent"}};
  if (!l.password.empty()) spec.env["PGPASSWORD"] = l.password;
  return spec;
}

http_request download_request(const fetch_restore_io& io, const remote_backup& backup) {
  http_request r{http::verb::get,
                 io.client.endpoint().target(std::string(wire::download_prefix) + backup.id), 11};
  r.set(http::field::authorization, "Bearer " + io.token);
  return r;
}

// What the download's response and hash say, once the body has ended.
stage_error judge_download(const http_outcome& reply, const remote_backup& backup, sha256& hash) {
  if (!reply.ok()) return fail(reply.failure, "downloading " + backup.id + ": " + reply.message);
  if (reply.status() != 200) {
    return fail(reply.status() == 401 || reply.status() == 403 ? errc::receiver_auth_failed
                                                               : errc::restore_failed,
                "downloading " + backup.id + ": " + describe_response(reply.response));
  }
  const auto digest = to_hex(hash.finish());
  if (digest != backup.sha256) {
    return fail(errc::hash_mismatch, "the download of " + backup.id + " has sha256 " + digest +
                                         ", the receiver's record says " + backup.sha256);
  }
  return {};
}

stage_error judge_restore(const child_result& result, const restore_target& target) {
  if (result.stopped) {
    return fail(errc::cancelled, target.jobs > 1
                                     ? "pg_restore stopped (--jobs: what it had restored stays)"
                                     : "pg_restore stopped (one transaction: nothing of it was "
                                       "committed)");
  }
  if (!result.ok()) {
    const auto why = result.postgres_error();
    return fail(errc::restore_failed,
                "pg_restore failed (" + result.describe() + ")" + (why.empty() ? "" : ": " + why));
  }
  return {};
}

// What every download sink does with a piece: notice a stop request, hash, count.
struct download_tally {
  explicit download_tally(const fetch_restore_io& io) : io_(io) {}
  bool stop_requested() const { return io_.child && io_.child->kill_requested(); }
  void add(std::span<const char> data) {
    hash.update(data.data(), data.size());
    received += data.size();
    if (io_.progress != nullptr) io_.progress->bytes += data.size();
  }
  sha256 hash;
  std::uint64_t received = 0;

 private:
  const fetch_restore_io& io_;
};

void begin_progress(const fetch_restore_io& io, const char* stage, std::uint64_t total = 0) {
  if (io.progress != nullptr) io.progress->begin(io.progress_label, stage, total);
}

bool is_encrypted(const remote_backup& backup) {
  return io::format_of_name(backup.id).encrypted();
}

// What a download goes through before pg_restore or the spool: the read stages of the format
// its name says ([age -d] → [zstd -d]), in front of `chain`'s end.
void push_read_stages(io::filter_group& chain, const fetch_restore_io& io,
                      const remote_backup& backup) {
  io::codec_settings keys;
  keys.secrets.identities = io.identities;
  io::push_read_stages(chain, io::format_of_name(backup.id), keys);
}

}  // namespace

net::awaitable<stage_error> stream_plaintext(const fetch_restore_io& io,
                                             const remote_backup& backup, stage_clock& download,
                                             const char* next_stage, plaintext_consumer consume,
                                             std::error_code& consumer_ec) {
  begin_progress(io, "download", backup.size);
  download_tally tally(io);
  // held piece → [age -d] → [zstd -d] → ready → the consumer.
  io::buffer_sink ready;
  io::filter_group chain(ready);
  push_read_stages(chain, io, backup);
  std::vector<char> held;  // the newest piece: the consumer gets it once the hash matched
  std::error_code chain_ec;
  // When the consumer stops (pg_restore failed) or the bytes do not decompress, the rest is
  // still hashed: a corrupt copy is then named as the cause.
  body_sink sink = [&](std::span<const char> data) -> net::awaitable<std::error_code> {
    if (tally.stop_requested()) co_return make_error_code(std::errc::operation_canceled);
    if (!held.empty() && !consumer_ec && !chain_ec) {
      chain_ec = chain.write(held);
      consumer_ec = co_await consume(ready, false);
    }
    held.assign(data.begin(), data.end());
    tally.add(data);
    co_return std::error_code{};
  };
  auto request = download_request(io, backup);
  const auto reply = co_await io.client.download(std::move(request), std::move(sink));
  auto error = judge_download(reply, backup, tally.hash);
  download.done(tally.received, !error);
  if (error || consumer_ec) co_return error;
  begin_progress(io, next_stage);
  if (!chain_ec) chain_ec = chain.write(held);
  if (!chain_ec) chain_ec = chain.finish();
  if (chain_ec) {
    co_return fail(errc::restore_failed,
                   backup.id + " matches its sha256 but " +
                       (is_encrypted(backup) ? "does not decrypt: " : "does not decompress: ") +
                       chain.describe(chain_ec));
  }
  consumer_ec = co_await consume(ready, true);
  co_return stage_error{};
}

net::awaitable<streamed_outcome> stream_to_child(const fetch_restore_io& io,
                                                 const remote_backup& backup,
                                                 const child_spec& spec, stage_clock& download,
                                                 const char* next_stage) {
  stage_error download_error;
  bool download_done = false;
  stdin_feeder feeder = [&](net::writable_pipe& in) -> net::awaitable<std::error_code> {
    std::error_code pipe_ec;
    plaintext_consumer to_pipe = [&](io::buffer_sink& ready,
                                     bool) -> net::awaitable<std::error_code> {
      co_await drain_to_pipe(ready, in, pipe_ec);
      co_return pipe_ec;
    };
    download_error =
        co_await stream_plaintext(io, backup, download, next_stage, std::move(to_pipe), pipe_ec);
    download_done = true;
    if (pipe_ec) co_return pipe_ec;
    if (download_error) co_return make_error_code(std::errc::operation_canceled);
    co_return std::error_code{};
  };
  streamed_outcome out;
  out.child = co_await run_child(spec, nullptr, io.child, std::move(feeder));
  if (!download_done) download.done(0, false);
  out.download = std::move(download_error);
  co_return out;
}

namespace {

net::awaitable<stage_error> streamed(const fetch_restore_io& io, const remote_backup& backup,
                                     const restore_target& target, const pg_tool& tool,
                                     std::vector<stage_record>& stages) {
  stage_clock download(stages, "download");
  stage_clock restore(stages, "restore");
  const auto outcome =
      co_await stream_to_child(io, backup, pg_restore_spec(tool, target), download, "restore");
  // A stop request outranks what it caused (a cut download, a killed pg_restore).
  auto error = !outcome.child.stopped && outcome.download ? outcome.download
                                                          : judge_restore(outcome.child, target);
  restore.done(0, !error);
  co_return error;
}

stage_error write_list(const stdfs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return fail(errc::local_io_failed, "cannot write " + path.string());
  return {};
}

net::awaitable<stage_error> run_pg_restore(const fetch_restore_io& io, const pg_tool& tool,
                                           const restore_target& target,
                                           std::vector<std::string> args, const stdfs::path& file) {
  auto spec = pg_restore_spec(tool, target);
  spec.args.insert(spec.args.end(), args.begin(), args.end());
  spec.args.push_back(file.string());
  const auto result = co_await run_child(spec, nullptr, io.child);
  co_return judge_restore(result, target);
}

// TimescaleDB's procedure over a spooled archive (pipeline/timescaledb_restore.hpp).
net::awaitable<stage_error> restore_timescaledb(const fetch_restore_io& io,
                                                const restore_target& target, const pg_tool& tool,
                                                const stdfs::path& file) {
  child_spec list_spec;
  list_spec.program = tool.path;
  list_spec.args = {"--list", file.string()};
  std::string listing;
  const auto listed = co_await run_child_capture(list_spec, listing);
  if (!listed.ok()) {
    co_return fail(errc::restore_list_failed, "pg_restore --list failed (" + listed.describe() +
                                                  "): " + listed.last_error_line());
  }
  const auto toc = split_timescaledb_toc(listing);
  const auto all_list = stdfs::path(file.string() + ".list");
  const auto first_list = stdfs::path(file.string() + ".first.list");
  const auto second_list = stdfs::path(file.string() + ".second.list");
  stage_error error = write_list(all_list, toc.all);
  if (!error) error = write_list(first_list, toc.first);
  if (!error) error = write_list(second_list, toc.second);
  bool prepared = false;
  if (!error) {
    error = prepare_timescaledb_target(target.login, target.timescaledb_version);
    prepared = !error;
  }
  if (!error && target.jobs <= 1) {
    std::vector<std::string> args;
    args.push_back("--use-list=" + all_list.string());
    error = co_await run_pg_restore(io, tool, target, std::move(args), file);
  } else if (!error) {
    // The schema and TimescaleDB's catalog first, in one transaction; then the rows of every
    // other table and what comes after them (indexes, constraints) in parallel.
    auto first = target;
    first.jobs = 1;
    // Named first: GCC 12 mishandles braced lists inside co_await.
    std::vector<std::string> first_args;
    first_args.push_back("--section=pre-data");
    first_args.push_back("--section=data");
    first_args.push_back("--use-list=" + first_list.string());
    error = co_await run_pg_restore(io, tool, first, std::move(first_args), file);
    auto second = target;
    second.clean = false;  // cleaned by the first phase
    if (!error) {
      std::vector<std::string> second_args;
      second_args.push_back("--section=data");
      second_args.push_back("--section=post-data");
      second_args.push_back("--use-list=" + second_list.string());
      error = co_await run_pg_restore(io, tool, second, std::move(second_args), file);
    }
  }
  if (prepared && target.timescaledb_post_restore) {
    // Also after a failure: a database left in restore mode would hide compressed rows and
    // run no job for whoever uses it next.
    auto finished = finish_timescaledb_target(target.login);
    if (!error) error = std::move(finished);
  }
  std::error_code ec;
  stdfs::remove(all_list, ec);
  stdfs::remove(first_list, ec);
  stdfs::remove(second_list, ec);
  co_return error;
}

net::awaitable<stage_error> spooled(const fetch_restore_io& io, const remote_backup& backup,
                                    const restore_target& target, const pg_tool& tool,
                                    std::vector<stage_record>& stages) {
  std::error_code ec;
  stdfs::create_directories(io.spool_dir, ec);
  const auto file = io.spool_dir / backup.id;
  stage_clock download(stages, "download");
  begin_progress(io, "download", backup.size);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    download.done(0, false);
    co_return fail(errc::local_io_failed,
                   "cannot create " + file.string() + ": " + std::strerror(errno));
  }
  // download → [age -d] → [zstd -d] → the spool file pg_restore reads (-j, or -L for TimescaleDB).
  download_tally tally(io);
  // Written back while it arrives and synced at the end, as a file restored by hand would be
  // on disk: otherwise the kernel flushes the download while pg_restore reads it.
  io::file_writer spool(fd, true);
  io::filter_group chain(spool);
  push_read_stages(chain, io, backup);
  stage_error write_error;
  body_sink sink = [&](std::span<const char> data) -> net::awaitable<std::error_code> {
    if (tally.stop_requested()) {
      write_error = fail(errc::cancelled, "the download was stopped");
      co_return make_error_code(std::errc::operation_canceled);
    }
    tally.add(data);
    if (write_error) co_return std::error_code{};  // bytes that do not decompress: hash on
    if (const auto wec = chain.write(data)) {
      const bool disk = !io::is_codec_error(wec);
      write_error = fail(disk ? errc::local_io_failed : errc::restore_failed,
                         "writing the download of " + backup.id + ": " + chain.describe(wec));
      // A disk error ends the download; bytes zstd or age refuse are hashed to the end, so a
      // corrupt copy is named as what it is.
      if (disk) co_return wec;
    }
    co_return std::error_code{};
  };
  auto request = download_request(io, backup);
  const auto reply = co_await io.client.download(std::move(request), std::move(sink));
  auto error = judge_download(reply, backup, tally.hash);
  // A corrupt copy is named as such, before what its bytes did to zstd or the disk.
  if (!error && write_error) error = write_error;
  if (!error) {
    if (const auto fec = chain.finish()) {
      error = fail(errc::restore_failed,
                   "finishing the download of " + backup.id + ": " + chain.describe(fec));
    }
  }
  ::close(fd);
  download.done(tally.received, !error);
  if (!error) {
    stage_clock restore(stages, "restore");
    begin_progress(io, "restore");
    if (target.timescaledb_version.empty()) {
      auto spec = pg_restore_spec(tool, target);
      spec.args.push_back(file.string());
      const auto result = co_await run_child(spec, nullptr, io.child);
      error = judge_restore(result, target);
    } else {
      error = co_await restore_timescaledb(io, target, tool, file);
    }
    restore.done(0, !error);
  }
  stdfs::remove(file, ec);
  co_return error;
}

}  // namespace

net::awaitable<stage_error> fetch_plaintext(fetch_restore_io io, const remote_backup& backup,
                                            std::string& out, std::uint64_t limit) {
  if (is_encrypted(backup) && io.identities.empty()) {
    co_return fail(errc::config_invalid,
                   backup.id +
                       " is encrypted with age and AGE_IDENTITY_FILE is not set (HINT: point it "
                       "at an identity of one of the backup's recipients)");
  }
  // download → [age -d] → [zstd -d] → memory; nothing is used before the hash matched.
  download_tally tally(io);
  io::buffer_sink plain;
  io::filter_group chain(plain);
  push_read_stages(chain, io, backup);
  std::string chain_problem;
  body_sink sink = [&](std::span<const char> data) -> net::awaitable<std::error_code> {
    if (tally.stop_requested()) co_return make_error_code(std::errc::operation_canceled);
    tally.add(data);
    if (!chain_problem.empty()) co_return std::error_code{};  // hashed on: a corrupt copy
    if (const auto ec = chain.write(data)) chain_problem = chain.describe(ec);
    if (plain.bytes().size() > limit) {
      chain_problem = "its content is larger than " + std::to_string(limit) + " bytes";
    }
    co_return std::error_code{};
  };
  auto request = download_request(io, backup);
  const auto reply = co_await io.client.download(std::move(request), std::move(sink));
  if (auto error = judge_download(reply, backup, tally.hash)) co_return error;
  if (chain_problem.empty()) {
    if (const auto ec = chain.finish()) chain_problem = chain.describe(ec);
  }
  if (!chain_problem.empty()) {
    co_return fail(errc::restore_failed,
                   backup.id + " matches its sha256 but cannot be read: " + chain_problem);
  }
  out = plain.text();
  co_return stage_error{};
}

net::awaitable<stage_error> fetch_and_restore(fetch_restore_io io, const remote_backup& backup,
                                              const restore_target& target,
                                              std::vector<stage_record>& stages) {
  if (is_encrypted(backup) && io.identities.empty()) {
    co_return fail(errc::config_invalid,
                   backup.id +
                       " is encrypted with age and AGE_IDENTITY_FILE is not set (HINT: point it "
                       "at an identity of one of the backup's recipients)");
  }
  pg_tool tool;
  if (auto error = co_await pick_pg_restore(io, target.login, tool)) co_return error;
  if (target.jobs > 1 || !target.timescaledb_version.empty()) {
    co_return co_await spooled(io, backup, target, tool, stages);
  }
  co_return co_await streamed(io, backup, target, tool, stages);
}

}  // namespace pgship::agent
