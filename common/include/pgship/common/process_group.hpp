#pragma once
// A Boost.Process v2 launcher initializer: the child leads a new process group, so killing the
// group (kill(-pid, sig)) also stops whatever the child started, such as a wrapper script's
// pg_dump, and a terminal's Ctrl-C meant for us does not reach it directly.

#include <boost/system/error_code.hpp>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include <unistd.h>

namespace pgship {

struct new_process_group {
  template <class Launcher, class Path>
  boost::system::error_code on_exec_setup(Launcher&, const Path&, const char* const*&) {
    ::setpgid(0, 0);
    return {};
  }
  // Boost.Process 1.81 ends a child whose exec failed with exit(), which runs this program's
  // atexit handlers and static destructors in the forked copy (a test's PostgreSQL cluster was
  // stopped that way by probing a pg_dumpall that did not exist). The parent has already been
  // told the errno; _exit ends the copy without them. Variadic because Boost's detection
  // expression and its call disagree on the arguments.
  template <class... Args>
  void on_exec_error(Args&&...) {
    ::_exit(127);
  }
};

/// A Boost.Process v2 launcher initializer: the child inherits stdin, stdout and stderr only.
/// Boost 1.81's close_all compares each whitelisted descriptor with itself, so it never closes
/// the ones between stderr and its exec-error pipe: every child inherited the agent's sockets
/// and the write ends of other children's pipes, and a server that pg_ctl started kept them
/// open (a pipe held so never reaches EOF). Marked close-on-exec here, they go at exec.
struct only_stdio_inherited {
  template <class Launcher, class Path>
  boost::system::error_code on_exec_setup(Launcher&, const Path&, const char* const*&) {
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      rlimit limit{};
      const int top = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 1048576
                          ? static_cast<int>(limit.rlim_cur)
                          : 1048576;
      for (int fd = 3; fd < top; ++fd)
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    return {};
  }
};

}  // namespace pgship
