#include <pgship/common/backup_name.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/manifest_name.hpp>

namespace pgship {

std::optional<manifest_name> parse_manifest_name(std::string_view name) {
  if (!fs::is_safe_name(name)) return std::nullopt;
  for (const bool encrypted : {true, false}) {
    const auto suffix = encrypted ? encrypted_manifest_suffix : manifest_suffix;
    if (!name.ends_with(suffix)) continue;
    const auto backup = name.substr(0, name.size() - suffix.size());
    if (!parse_backup_name(backup)) return std::nullopt;
    return manifest_name{std::string(backup), encrypted};
  }
  return std::nullopt;
}

std::string format_manifest_name(std::string_view backup, bool encrypted) {
  std::string out(backup);
  out += encrypted ? encrypted_manifest_suffix : manifest_suffix;
  return out;
}

}  // namespace pgship
