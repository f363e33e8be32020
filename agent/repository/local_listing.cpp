#include "repository/local_listing.hpp"
#include <algorithm>

namespace pgship::agent {
namespace stdfs = std::filesystem;

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

std::vector<manifest> pending_uploads(const stdfs::path& dir, std::string_view database,
                                      backup_kind kind) {
  auto waiting = list_local_backups(dir, database, kind);
  std::sort(waiting.begin(), waiting.end(),
            [](const auto& a, const auto& b) { return a.taken < b.taken; });
  std::vector<manifest> out;
  for (const auto& b : waiting) {
    if (!unshipped(b.upload)) continue;
    if (auto m = read_manifest(manifest_path(dir, b.name))) out.push_back(std::move(*m));
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
    if (upload && unshipped(b.upload)) ++out.unshipped;
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

}  // namespace pgship::agent
