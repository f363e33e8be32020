#pragma once
// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace pgship::test {

class temp_dir {
 public:
  explicit temp_dir(std::string_view prefix = "pgship-test");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Writes `content` to `path` (creating parent directories); throws on failure.
void write_file(const std::filesystem::path& path, std::string_view content);
std::string read_file(const std::filesystem::path& path);
/// `size` deterministic pseudo-random bytes: incompressible content, like a compressed dump.
std::string random_bytes(std::size_t size, std::uint32_t seed);

}  // namespace pgship::test
