#pragma once
// A real full disk for tests: a small tmpfs mounted at a directory for the test's lifetime.
// Mounting needs root (CI runs as root); tests skip when mounted() is false.

#include <cstdint>
#include <filesystem>
#include <string>

namespace pgship::test {

class small_tmpfs {
 public:
  /// Mounts a tmpfs of `size` ("16m") at `where` (created if missing).
  small_tmpfs(const std::filesystem::path& where, const std::string& size);
  /// Detaches the mount (lazily, so a process still holding files there does not stop it).
  ~small_tmpfs();
  small_tmpfs(const small_tmpfs&) = delete;
  small_tmpfs& operator=(const small_tmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::filesystem::path& path() const { return path_; }
  std::uint64_t free_bytes() const;
  /// Writes a file at `name` that leaves `left` bytes free (about: tmpfs counts whole pages).
  void fill_leaving(const std::string& name, std::uint64_t left) const;

 private:
  std::filesystem::path path_;
  bool mounted_ = false;
};

}  // namespace pgship::test
