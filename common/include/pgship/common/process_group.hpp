#pragma once
// A Boost.Process v2 launcher initializer: the child leads a new process group, so killing the
// group (kill(-pid, sig)) also stops whatever the child started, such as a wrapper script's
// pg_dump, and a terminal's Ctrl-C meant for us does not reach it directly.

#include <boost/system/error_code.hpp>
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

}  // namespace pgship
