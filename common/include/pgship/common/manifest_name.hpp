#pragma once
// A backup's manifest as it travels with the backup (DESIGN.md "Backup naming and files"): the
// agent uploads it after the backup as `<backup file>.manifest.json`, or
// `<backup file>.manifest.json.age` when the backup is encrypted (to the same recipients). The
// receiver keeps it beside the backup, never parses it and never lists it as a backup.

#include <optional>
#include <string>
#include <string_view>

namespace pgship {

inline constexpr std::string_view manifest_suffix = ".manifest.json";
inline constexpr std::string_view encrypted_manifest_suffix = ".manifest.json.age";

struct manifest_name {
  std::string backup;      // the backup file it belongs to (a parse_backup_name name)
  bool encrypted = false;  // `.manifest.json.age`: an age file whose plaintext is the JSON
};

/// nullopt unless `name` is a safe name (fs::is_safe_name) made of a backup file name
/// (parse_backup_name) and one of the two suffixes.
std::optional<manifest_name> parse_manifest_name(std::string_view name);

/// `<backup>.manifest.json`, or `<backup>.manifest.json.age` when `encrypted`.
std::string format_manifest_name(std::string_view backup, bool encrypted);

}  // namespace pgship
