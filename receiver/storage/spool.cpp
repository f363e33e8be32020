#include "storage/spool.hpp"
#include <random>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace pgship::receiver {

spool::spool(const std::filesystem::path& storage_dir) : dir_(storage_dir / ".incoming") {
  std::filesystem::create_directories(dir_);
  // Single-request uploads cannot resume: whatever they left is debris.
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    const auto file_name = entry.path().filename().string();
    // .part: single-request uploads; .*.tmp*: half-written files of write_file_atomically.
    if (entry.path().extension() == ".part" ||
        (file_name.starts_with(".") && file_name.find(".tmp") != std::string::npos)) {
      spdlog::info("removing interrupted upload {}", file_name);
      std::error_code ignored;
      std::filesystem::remove(entry.path(), ignored);
    }
  }
}

std::filesystem::path spool::new_path(std::string_view prefix) const {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return dir_ / fmt::format("{}-{:016x}.part", prefix, rng());
}

std::optional<std::uint64_t> spool::free_bytes() const {
  struct statvfs s {};
  if (::statvfs(dir_.c_str(), &s) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
}

bool spool::writable() const {
  return ::access(dir_.c_str(), W_OK | X_OK) == 0;
}

}  // namespace pgship::receiver
