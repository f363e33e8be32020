#include "pipeline/rotate.hpp"
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
    const bool not_shipped = b.upload == upload_state::pending || b.upload == upload_state::failed;
    if (rule.upload_required && not_shipped) continue;
    out.push_back(b.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<local_backup> list_local_backups(const stdfs::path& dir, std::string_view database,
                                             backup_kind kind) {
  std::vector<local_backup> out;
  std::error_code ec;
  for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    const auto parsed = parse_backup_name(name);
    if (!parsed || parsed->database != database || parsed->kind != kind) continue;
    local_backup b{name, parsed->taken, upload_state::pending};
    const auto m = read_manifest(manifest_path(dir, name));
    if (m) b.upload = m->upload.state;
    b.has_manifest = m.has_value();
    out.push_back(std::move(b));
  }
  return out;
}

local_backup_summary summarize_local_backups(const stdfs::path& dir, std::string_view database,
                                             bool upload) {
  local_backup_summary out;
  const auto newer = [](auto& slot, auto at) {
    if (!slot || at > *slot) slot = at;
  };
  for (const auto& b : list_local_backups(dir, database)) {
    if (!b.has_manifest) continue;  // nothing vouches for it
    newer(out.newest, b.taken);
    const bool not_shipped = b.upload == upload_state::pending || b.upload == upload_state::failed;
    if (upload && not_shipped) ++out.unshipped;
    // With UPLOAD=off a local backup is all there is; one shipped earlier still counts.
    if (b.upload == upload_state::uploaded || (!upload && b.upload == upload_state::skipped)) {
      newer(out.newest_shipped, b.taken);
    }
  }
  return out;
}

std::uint64_t local_backup_bytes(const stdfs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    for (const char* side : {".sha256", ".json"}) {
      if (name.ends_with(side)) name.resize(name.size() - std::string_view(side).size());
    }
    if (!parse_backup_name(name)) name += ".dump";  // a manifest: <stem>.json
    std::error_code size_ec;
    if (!parse_backup_name(name) || !it->is_regular_file(size_ec)) continue;
    const auto size = it->file_size(size_ec);
    if (!size_ec) total += size;
  }
  return total;
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
