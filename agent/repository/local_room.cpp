#include "repository/local_room.hpp"
#include <algorithm>
#include <string>

#include "repository/local_listing.hpp"

namespace pgship::agent {
namespace stdfs = std::filesystem;

namespace {

std::uint64_t newest_backup_bytes(const stdfs::path& dir, std::string_view database,
                                  backup_kind kind) {
  auto backups = list_local_backups(dir, database, kind);
  const auto newest =
      std::max_element(backups.begin(), backups.end(),
                       [](const auto& a, const auto& b) { return a.taken < b.taken; });
  if (newest == backups.end()) return 0;
  std::error_code ec;
  const auto size = stdfs::file_size(dir / newest->name, ec);
  return ec ? 0 : size;
}

}  // namespace

stage_error check_local_room(const stdfs::path& dir, std::string_view database, backup_kind kind,
                             std::uint64_t min_free) {
  if (min_free == 0) return {};
  std::error_code ec;
  const auto space = stdfs::space(dir, ec);
  if (ec) {
    return fail(errc::local_io_failed,
                "cannot read the free space of BACKUP_DIR " + dir.string() + ": " + ec.message());
  }
  const std::uint64_t expected = newest_backup_bytes(dir, database, kind);
  if (space.available >= min_free && space.available - min_free >= expected) return {};
  return fail(errc::disk_full,
              "not dumping " + std::string(database) + ": BACKUP_DIR " + dir.string() + " has " +
                  std::to_string(space.available) + " bytes free, and a backup of about " +
                  std::to_string(expected) + " bytes would leave less than BACKUP_DIR_MIN_FREE (" +
                  std::to_string(min_free) +
                  " bytes); free space, or ship the backups waiting for the receiver");
}

}  // namespace pgship::agent
