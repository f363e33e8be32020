#include "repository/backup_dir.hpp"
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
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

std::string become_backup_dir_owner(const stdfs::path& dir, const std::string& what) {
  if (::geteuid() != 0) return {};
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || st.st_uid == 0) return {};
  const passwd* user = ::getpwuid(st.st_uid);
  const std::string name = user != nullptr ? user->pw_name : std::to_string(st.st_uid);
  const std::string home = user != nullptr && user->pw_dir != nullptr ? user->pw_dir : "/";
  // The user's own group, not the directory's (`install -d -o svc` leaves it root's).
  const gid_t gid = user != nullptr ? user->pw_gid : st.st_gid;
  const auto failed = [&](const std::string& step) {
    throw std::system_error(errno, std::generic_category(),
                            step + " to become " + name + ", " + what + "'s owner");
  };
  if (gid == 0) {
    errno = EPERM;
    failed("refusing group root (no passwd entry for uid " + std::to_string(st.st_uid) + ")");
  }
  // Groups first: only root may change them.
  const int groups = user != nullptr ? ::initgroups(name.c_str(), gid) : ::setgroups(0, nullptr);
  if (groups != 0) failed("setting the supplementary groups");
  if (::setresgid(gid, gid, gid) != 0) failed("setresgid");
  if (::setresuid(st.st_uid, st.st_uid, st.st_uid) != 0) failed("setresuid");
  // libpq reads ~/.pgpass: the user's, not root's.
  ::setenv("HOME", home.c_str(), 1);
  return name;
}

}  // namespace pgship::agent
