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
};

}  // namespace pgship
