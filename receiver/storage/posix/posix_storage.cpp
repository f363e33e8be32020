#include "storage/posix/posix_storage.hpp"
#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/checksum_line.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/manifest_name.hpp>
#include <pgship/common/wire.hpp>

#include "storage/posix/posix_files.hpp"

namespace pgship::receiver {
namespace {

namespace stdfs = std::filesystem;
using posix_files::make_durable_dirs;
using posix_files::open_file_range;
using posix_files::read_whole_file;

// Whether the sidecar `name` belongs to a backup file in `dir`: `<file>.sha256`, or the record
// named as replace_extension(".json") names it (x.dump → x.json, x.dump.zst → x.dump.json).
bool has_backup_beside(const stdfs::path& dir, const std::string& name) {
  std::error_code ec;
  if (name.ends_with(".sha256")) return stdfs::exists(dir / name.substr(0, name.size() - 7), ec);
  const std::string base = name.substr(0, name.size() - 5);
  for (const auto ext : backup_extensions) {
    const auto dot = ext.rfind('.');
    if (base.ends_with(ext.substr(0, dot)) &&
        stdfs::exists(dir / (base + std::string(ext.substr(dot))), ec)) {
      return true;
    }
  }
  return false;
}

using clock = std::chrono::system_clock;

std::optional<std::string> read_small_file(const stdfs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(64 * 1024, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return std::nullopt;
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// Both names a backup's manifest may have, beside the dump: the encrypted one first.
std::array<stdfs::path, 2> manifest_paths(const stdfs::path& dump) {
  const auto id = dump.filename().string();
  return {dump.parent_path() / format_manifest_name(id, true),
          dump.parent_path() / format_manifest_name(id, false)};
}

std::optional<backup_record> read_record(const stdfs::path& dump) {
  const auto json_text = read_small_file(stdfs::path(dump).replace_extension(".json"));
  if (!json_text) return std::nullopt;
  return record_from_json(*json_text);
}

// The backups in STORAGE_DIR/.quarantine/ (a second finding of a name is in a subdirectory).
std::size_t count_quarantined(const stdfs::path& root) {
  std::size_t n = 0;
  std::error_code ec;
  for (stdfs::recursive_directory_iterator it(root / ".quarantine", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (parse_backup_name(it->path().filename().string())) ++n;
  }
  return n;
}

}  // namespace

posix_storage::posix_storage(stdfs::path root, bool sweep) : root_(std::move(root)) {
  stdfs::create_directories(root_);
  auto found = scan(sweep);
  if (!found) throw std::system_error(found.error(), "cannot read " + root_.string());
  counted(std::move(*found));
}

storage_capabilities posix_storage::capabilities() const {
  return {.backend = "fs", .keeps_spool_file = true};
}

result<store_count> posix_storage::do_count() {
  return scan(false);
}

result<store_count> posix_storage::scan(bool sweep) const {
  store_count found;
  auto& usage = found.usage;
  std::error_code root_ec;
  stdfs::directory_iterator top(root_, root_ec);
  if (root_ec) return root_ec;
  for (const auto& client_dir : top) {
    const auto client = client_dir.path().filename().string();
    // .incoming/, .quarantine/ and state files are not clients.
    if (!client_dir.is_directory() || !fs::is_safe_name(client) || client.starts_with(".")) {
      continue;
    }
    std::error_code ec;
    for (const auto& db_dir : stdfs::directory_iterator(client_dir.path(), ec)) {
      if (!db_dir.is_directory()) continue;
      for (const auto& file : stdfs::directory_iterator(db_dir.path(), ec)) {
        const auto& p = file.path();
        const auto name = p.filename().string();
        if (name.starts_with(".") && name.find(".tmp") != std::string::npos) {
          std::error_code ignored;
          if (sweep) stdfs::remove(p, ignored);  // a sidecar write cut short by a crash
          continue;
        }
        if (const auto manifest = parse_manifest_name(name)) {
          // A backup's manifest is not a backup; one whose backup is gone is swept at start
          // (a crash between the removals, or a removal racing its upload).
          std::error_code ignored;
          if (sweep && !stdfs::exists(db_dir.path() / manifest->backup, ignored)) {
            stdfs::remove(p, ignored);
          }
          continue;
        }
        if (name.ends_with(".json") || name.ends_with(".sha256")) {
          // A sidecar whose dump never arrived: a crash between the two renames. (Only at
          // start: later it may be a commit on its way.)
          if (sweep && !has_backup_beside(db_dir.path(), name)) {
            std::error_code ignored;
            stdfs::remove(p, ignored);
          }
          continue;
        }
        if (!parse_backup_name(name)) continue;
        if (auto r = read_record(p)) {
          usage[client].first += r->size;
          usage[client].second += 1;
        }
      }
    }
  }
  found.quarantined = count_quarantined(root_);
  return found;
}

result<commit_result> posix_storage::do_commit(commit_request request) {
  const auto& [spooled, client, file_name, digest, size, staged] = request;
  const auto name = parse_backup_name(file_name);
  if (!name || !fs::is_safe_name(client)) return std::make_error_code(std::errc::invalid_argument);

  commit_result done{commit_outcome::created,
                     backup_record{file_name, client, name->database, size, to_hex(digest),
                                   name->taken, clock::now()}};
  auto& [outcome, record] = done;
  const stdfs::path relative = stdfs::path(client) / name->database;
  const stdfs::path dir = root_ / relative;
  const stdfs::path target = dir / file_name;

  // One commit at a time: the existence check and the rename must not interleave.
  std::lock_guard lock(mutex_);
  std::error_code ec;
  if (stdfs::exists(target, ec)) {
    const auto existing = read_record(target);
    outcome = existing && existing->sha256 == record.sha256 ? commit_outcome::identical
                                                            : commit_outcome::conflict;
    if (existing) record = *existing;
    stdfs::remove(spooled, ec);
    return done;
  }
  // x.dump.age and x.dump.zst would share the record x.dump.json: the second one is refused
  // (a record left by a commit cut short, with no file of its own, is overwritten).
  if (const auto other = read_record(target);
      other && other->id != file_name && stdfs::exists(dir / other->id, ec)) {
    outcome = commit_outcome::conflict;
    stdfs::remove(spooled, ec);
    return done;
  }
  if ((ec = make_durable_dirs(root_, relative))) return ec;
  if ((ec = fs::write_file_atomically(stdfs::path(target).concat(".sha256"),
                                      format_checksum_line(digest, file_name)))) {
    return ec;
  }
  if ((ec = fs::write_file_atomically(stdfs::path(target).replace_extension(".json"),
                                      to_json(record) + "\n"))) {
    return ec;
  }
  if (::rename(spooled.c_str(), target.c_str()) != 0) {
    return std::error_code{errno, std::generic_category()};
  }
  if ((ec = fs::fsync_directory(dir))) return ec;
  return done;
}

result<std::vector<backup_record>> posix_storage::list(
    const std::string& client, const std::optional<std::string>& database) const {
  std::vector<backup_record> out;
  const stdfs::path client_dir = root_ / client;
  std::error_code ec;
  if (!fs::is_safe_name(client) || !stdfs::is_directory(client_dir, ec)) return out;
  for (const auto& db_dir : stdfs::directory_iterator(client_dir, ec)) {
    const auto db = db_dir.path().filename().string();
    if (database && db != *database) continue;
    std::error_code inner;
    for (const auto& file : stdfs::directory_iterator(db_dir.path(), inner)) {
      if (!parse_backup_name(file.path().filename().string())) continue;
      if (auto r = read_record(file.path())) out.push_back(std::move(*r));
    }
  }
  sort_newest_first(out);
  return out;
}

std::optional<backup_record> posix_storage::find_unlocked(const std::string& client,
                                                          const std::string& id) const {
  const auto name = parse_backup_name(id);
  if (!name || !fs::is_safe_name(client)) return std::nullopt;
  const stdfs::path dump = root_ / client / name->database / id;
  std::error_code ec;
  if (!stdfs::is_regular_file(dump, ec)) return std::nullopt;
  return read_record(dump);
}

result<std::optional<backup_record>> posix_storage::find(const std::string& client,
                                                         const std::string& id) const {
  return find_unlocked(client, id);
}

result<std::unique_ptr<object_reader>> posix_storage::open_range(const backup_record& record,
                                                                 std::uint64_t first,
                                                                 std::uint64_t length) const {
  return open_file_range(path_of(record), first, length);
}

stdfs::path posix_storage::path_of(const backup_record& record) const {
  return root_ / record.client / record.database / record.id;
}

result<backup_record> posix_storage::do_remove(const std::string& client, const std::string& id) {
  auto record = find_unlocked(client, id);
  if (!record) return std::make_error_code(std::errc::no_such_file_or_directory);
  const auto dump = path_of(*record);
  std::lock_guard lock(mutex_);
  // The dump goes first: without it the sidecars are ignored (and swept at start-up).
  if (::unlink(dump.c_str()) != 0) return std::error_code{errno, std::generic_category()};
  std::error_code ignored;
  stdfs::remove(stdfs::path(dump).concat(".sha256"), ignored);
  stdfs::remove(stdfs::path(dump).replace_extension(".json"), ignored);
  for (const auto& manifest : manifest_paths(dump))
    stdfs::remove(manifest, ignored);
  fs::fsync_directory(dump.parent_path());
  return std::move(*record);
}

std::error_code posix_storage::do_quarantine(const backup_record& record,
                                             const std::string& identity) {
  const auto dump = path_of(record);
  const stdfs::path relative = stdfs::path(record.client) / record.database;
  const stdfs::path quarantine_dir = root_ / ".quarantine";
  std::lock_guard lock(mutex_);
  // Still the backup the scrub read (not one removed and uploaded again meanwhile).
  const auto current = read_record(dump);
  struct stat st {};
  if (!current || current->sha256 != record.sha256 || ::lstat(dump.c_str(), &st) != 0 ||
      fmt::format("{}:{}", st.st_dev, st.st_ino) != identity) {
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  if (auto ec = make_durable_dirs(root_, stdfs::path(".quarantine") / relative)) return ec;
  // A second corruption of the same name keeps the first one's evidence: a subdirectory.
  auto dir = quarantine_dir / relative;
  std::error_code exists_ec;
  if (stdfs::exists(dir / record.id, exists_ec)) {
    const auto stamp =
        std::chrono::duration_cast<std::chrono::seconds>(clock::now().time_since_epoch());
    if (auto ec = make_durable_dirs(
            root_, stdfs::path(".quarantine") / relative / std::to_string(stamp.count()))) {
      return ec;
    }
    dir /= std::to_string(stamp.count());
  }
  // The dump goes first: from then on it is out of the list, its sidecars are ignored.
  if (::rename(dump.c_str(), (dir / record.id).c_str()) != 0) {
    return {errno, std::generic_category()};
  }
  const auto [sealed_manifest, plain_manifest] = manifest_paths(dump);
  for (const auto& side :
       {stdfs::path(dump).concat(".sha256"), stdfs::path(dump).replace_extension(".json"),
        sealed_manifest, plain_manifest}) {
    std::error_code ignored;
    stdfs::rename(side, dir / side.filename(), ignored);
  }
  fs::fsync_directory(dump.parent_path());
  fs::fsync_directory(dir);
  return {};
}

result<manifest_outcome> posix_storage::put_manifest(const backup_record& backup,
                                                     const stored_manifest& m, bool may_replace) {
  const auto name = manifest_name_beside(backup, m);
  if (!name) return std::make_error_code(std::errc::invalid_argument);
  const auto dump = path_of(backup);
  const auto target = dump.parent_path() / m.name;
  const auto other = dump.parent_path() / format_manifest_name(backup.id, !name->encrypted);
  // Under the lock remove() deletes with: a manifest never outlives its backup.
  std::lock_guard lock(mutex_);
  std::error_code ec;
  if (!stdfs::is_regular_file(dump, ec)) {
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  std::error_code read_ec;
  const auto existing = read_whole_file(target, m.bytes.size(), read_ec);
  if (existing && *existing == m.bytes) return manifest_outcome::identical;
  const bool had_other = stdfs::exists(other, ec);
  const bool had_one = had_other || read_ec != std::errc::no_such_file_or_directory;
  if (had_one && !may_replace) return manifest_outcome::refused;
  // As private as the backup's own bytes (incoming_file): it may name every table.
  if ((ec = fs::write_file_atomically(target, m.bytes, 0640))) return ec;
  // The other name goes after the new one is in place: a crash between leaves two, never none.
  if (had_other) {
    stdfs::remove(other, ec);
    if (auto sync_ec = fs::fsync_directory(dump.parent_path())) return sync_ec;
  }
  return had_one ? manifest_outcome::replaced : manifest_outcome::created;
}

result<std::optional<stored_manifest>> posix_storage::get_manifest(
    const backup_record& backup) const {
  if (!may_hold_manifest(backup)) return std::nullopt;
  for (const auto& p : manifest_paths(path_of(backup))) {
    std::error_code ec;
    auto bytes = read_whole_file(p, wire::max_manifest_bytes, ec);
    if (ec == std::errc::no_such_file_or_directory) continue;
    if (ec) return ec;
    return stored_manifest{p.filename().string(), std::move(*bytes)};
  }
  return std::nullopt;
}

}  // namespace pgship::receiver
