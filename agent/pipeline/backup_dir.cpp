#include "pipeline/backup_dir.hpp"
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgship/common/fs.hpp>

namespace pgship::agent {

namespace stdfs = std::filesystem;

stage_error prepare_backup_dir(const stdfs::path& dir) {
  const auto partial = dir / ".partial";
  std::error_code ec;
  stdfs::create_directories(partial, ec);
  if (ec) {
    return fail(errc::local_io_failed, "cannot create " + partial.string() + ": " + ec.message());
  }
  // A quick write test, so an unwritable BACKUP_DIR fails before pg_dump runs for an hour.
  const auto probe = partial / (".write-test-" + std::to_string(::getpid()));
  if (const auto wec = fs::write_file_atomically(probe, "")) {
    return fail(errc::local_io_failed,
                partial.string() + " is not writable: " + wec.message() +
                    " (HINT: chown -R the BACKUP_DIR owner's user: " + dir.string() + ")");
  }
  stdfs::remove(probe, ec);
  if (ec) {
    return fail(errc::local_io_failed,
                "cannot remove files in " + partial.string() + ": " + ec.message());
  }
  return {};
}

run_lock::~run_lock() {
  if (fd_ >= 0) ::close(fd_);
}

stage_error run_lock::acquire(const stdfs::path& dir) {
  const auto path = dir / ".partial" / ".lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    return fail(errc::local_io_failed,
                "cannot open " + path.string() + ": " + std::strerror(errno) +
                    " (HINT: chown -R the BACKUP_DIR owner's user: " + dir.string() + ")");
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    return fail(errc::run_in_progress, "another backup run is using " + dir.string() +
                                           " (it holds " + path.string() + ")");
  }
  return {};
}

int give_to_backup_dir_owner(const stdfs::path& dir) {
  if (::geteuid() != 0) return 0;
  struct stat top {};
  if (::stat(dir.c_str(), &top) != 0 || top.st_uid == 0) return 0;
  int changed = 0;
  std::error_code ec;
  for (stdfs::recursive_directory_iterator it(dir, stdfs::directory_options::none, ec), end;
       !ec && it != end; it.increment(ec)) {
    struct stat s {};
    if (::lstat(it->path().c_str(), &s) != 0) continue;
    if (s.st_uid == top.st_uid && s.st_gid == top.st_gid) continue;
    if (::lchown(it->path().c_str(), top.st_uid, top.st_gid) == 0) ++changed;
  }
  return changed;
}

}  // namespace pgship::agent
