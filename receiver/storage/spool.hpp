#pragma once
// STORAGE_DIR/.incoming/: every upload's bytes land here first, on local disk, whatever the
// storage backend (pgBackRest keeps its spool local too). tus state lives here as well. At
// start-up the debris of single-request uploads cut short is removed; tus files are kept for
// resumption and expired by their own sweeper.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

namespace pgship::receiver {

class spool {
 public:
  /// Creates the directory if needed and removes debris. Throws std::system_error when it
  /// cannot (start-up misconfiguration).
  explicit spool(const std::filesystem::path& storage_dir);

  const std::filesystem::path& dir() const { return dir_; }
  /// A fresh, unused path named `<prefix>-<random>.part`.
  std::filesystem::path new_path(std::string_view prefix) const;
  /// Free bytes on the spool's file system; nullopt if statvfs fails.
  std::optional<std::uint64_t> free_bytes() const;
  /// Whether a file can be created here right now.
  bool writable() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace pgship::receiver
