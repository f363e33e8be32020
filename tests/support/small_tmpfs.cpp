#include "small_tmpfs.hpp"
#include <fstream>

#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace pgship::test {

small_tmpfs::small_tmpfs(const std::filesystem::path& where, const std::string& size)
    : path_(where) {
  std::filesystem::create_directories(where);
  const std::string options = "size=" + size;
  mounted_ = ::geteuid() == 0 && ::mount("tmpfs", where.c_str(), "tmpfs", 0, options.c_str()) == 0;
}

small_tmpfs::~small_tmpfs() {
  if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
}

std::uint64_t small_tmpfs::free_bytes() const {
  struct statvfs st {};
  if (::statvfs(path_.c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

void small_tmpfs::fill_leaving(const std::string& name, std::uint64_t left) const {
  const auto free = free_bytes();
  std::ofstream(path_ / name) << std::string(free > left ? free - left : 0, 'x');
}

}  // namespace pgship::test
