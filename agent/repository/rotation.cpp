#include "repository/rotation.hpp"
#include <algorithm>
#include <set>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/fs.hpp>

namespace pgship::agent {
namespace stdfs = std::filesystem;

std::vector<std::string> select_rotation(const std::vector<local_backup>& all,
                                         const rotation_rule& rule,
                                         std::chrono::system_clock::time_point now) {
  std::vector<local_backup> backups;
  std::copy_if(all.begin(), all.end(), std::back_inserter(backups),
               [](const local_backup& b) { return b.has_manifest; });
  std::set<std::string> expired;
  if (rule.gfs.enabled()) {
    std::vector<retention_item> items;
    items.reserve(backups.size());
    for (const auto& b : backups)
      items.push_back({b.name, b.taken});
    for (auto& id : select_expired(items, rule.gfs, now))
      expired.insert(std::move(id));
  } else {
    auto newest_first = backups;
    std::sort(newest_first.begin(), newest_first.end(), [](const auto& a, const auto& b) {
      return a.taken != b.taken ? a.taken > b.taken : a.name > b.name;
    });
    for (std::size_t i = static_cast<std::size_t>(std::max(rule.keep_newest, 1));
         i < newest_first.size(); ++i) {
      expired.insert(newest_first[i].name);
    }
  }
  std::vector<std::string> out;
  for (const auto& b : backups) {
    if (!expired.contains(b.name)) continue;
    if (rule.upload_required && unshipped(b.upload)) continue;
    out.push_back(b.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

stage_error rotate_local(const stdfs::path& dir, std::string_view database, backup_kind kind,
                         const rotation_rule& rule, std::chrono::system_clock::time_point now,
                         rotate_output& out) {
  const auto backups = list_local_backups(dir, database, kind);
  const auto doomed = select_rotation(backups, rule, now);
  rotation_rule keep_all_shipped = rule;
  keep_all_shipped.upload_required = false;
  const auto by_rule = select_rotation(backups, keep_all_shipped, now);
  out.kept_not_uploaded = static_cast<int>(by_rule.size() - doomed.size());
  for (const auto& name : doomed) {
    std::error_code ec;
    // The manifest goes last: while it exists the backup is still listed as one.
    stdfs::remove(dir / name, ec);
    if (!ec) stdfs::remove(dir / (name + ".sha256"), ec);
    if (!ec) stdfs::remove(manifest_path(dir, name), ec);
    if (ec) {
      return fail(errc::rotate_failed, "cannot remove old backup " + name + ": " + ec.message());
    }
    out.removed.push_back(name);
  }
  out.kept = static_cast<int>(backups.size() - out.removed.size());
  if (!out.removed.empty()) {
    if (const auto ec = fs::fsync_directory(dir)) {
      return fail(errc::rotate_failed, "fsync " + dir.string() + ": " + ec.message());
    }
  }
  return {};
}

int remove_stale_partials(const stdfs::path& partial_dir, stdfs::file_time_type before) {
  int removed = 0;
  std::error_code ec;
  for (stdfs::directory_iterator it(partial_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename() == ".lock") continue;
    std::error_code time_ec;
    const auto written = it->last_write_time(time_ec);
    if (time_ec || written >= before) continue;
    std::error_code rm_ec;
    if (stdfs::remove(it->path(), rm_ec)) ++removed;
  }
  return removed;
}

}  // namespace pgship::agent
