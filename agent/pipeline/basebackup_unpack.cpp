#include "pipeline/basebackup_unpack.hpp"

#include <boost/process/v2/environment.hpp>

#include <pgship/common/io/stored_format.hpp>

namespace pgship::agent {

namespace net = boost::asio;

net::awaitable<stage_error> fetch_and_untar(fetch_restore_io io, const remote_backup& backup,
                                            const std::filesystem::path& dir,
                                            std::vector<stage_record>& stages) {
  if (io::format_of_name(backup.id).encrypted() && io.identities.empty()) {
    co_return fail(errc::config_invalid,
                   backup.id +
                       " is encrypted: set AGE_IDENTITY_FILE to an identity of one of "
                       "its recipients");
  }
  child_spec tar;
  tar.program = boost::process::v2::environment::find_executable("tar").string();
  if (tar.program.empty()) co_return fail(errc::restore_failed, "tar is not on PATH");
  tar.args = {"-x", "-f", "-", "-C", dir.string()};
  stage_clock download(stages, "download");
  stage_clock unpack(stages, "unpack");
  const auto outcome = co_await stream_to_child(io, backup, tar, download, "unpack");
  stage_error error;
  if (outcome.child.stopped) {
    error = fail(errc::cancelled, "unpacking " + backup.id + " stopped");
  } else if (outcome.download) {
    error = outcome.download;
  } else if (!outcome.child.ok()) {
    error = fail(errc::restore_failed, "tar could not unpack " + backup.id + " (" +
                                           outcome.child.describe() +
                                           "): " + outcome.child.last_error_line());
  }
  unpack.done(0, !error);
  co_return error;
}

}  // namespace pgship::agent
