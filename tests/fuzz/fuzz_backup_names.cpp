// Backup file names, which arrive in upload requests and name files on disk:
// parse_backup_name must accept only safe names, and what it accepts must format back to the
// very same name; backup_stem and fs::is_safe_name on every input.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/fs.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view name(reinterpret_cast<const char*>(data), size);
  const bool safe = pgship::fs::is_safe_name(name);
  if (safe &&
      (name.empty() || name.size() > 255 || name.front() == '.' ||
       name.find("..") != std::string_view::npos || name.find('/') != std::string_view::npos)) {
    __builtin_trap();
  }

  const std::string_view stem = pgship::backup_stem(name);
  if (!name.starts_with(stem)) __builtin_trap();

  const auto parsed = pgship::parse_backup_name(name);
  if (!parsed) return 0;
  if (!safe || parsed->database.empty() || stem.size() == name.size()) __builtin_trap();
  if (name.substr(stem.size()) != parsed->extension) __builtin_trap();
  const std::string again =
      pgship::format_backup_name(parsed->database, parsed->taken, parsed->extension);
  if (again != name) __builtin_trap();
  const auto reparsed = pgship::parse_backup_name(again);
  if (!reparsed || reparsed->taken != parsed->taken || reparsed->database != parsed->database) {
    __builtin_trap();
  }
  return 0;
}
