#include <unistd.h>

#include <pgship/common/host_name.hpp>

namespace pgship {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

}  // namespace pgship
