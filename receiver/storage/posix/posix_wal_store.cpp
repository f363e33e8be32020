#include "storage/posix/posix_wal_store.hpp"
#include <algorithm>
#include <cerrno>
#include <tuple>

#include <unistd.h>

#include <pgship/common/fs.hpp>
#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

#include "storage/posix/posix_files.hpp"

namespace pgship::receiver {
namespace {

namespace stdfs = std::filesystem;

constexpr std::uint64_t sidecar_limit = 1024 * 1024;
constexpr std::string_view sidecar_suffix = ".json";

bool is_wal_dir(std::string_view dir) {
  return dir == wal_history_dir || wal::is_segment_name(dir);
}

std::error_code errno_code() {
  return {errno, std::generic_category()};
}

}  // namespace

posix_wal_store::posix_wal_store(stdfs::path storage_dir) : root_(std::move(storage_dir)) {
  usage_ = count_usage();
}

std::map<std::string, std::uint64_t> posix_wal_store::count_usage() const {
  // What list_names() would list for every system of every client: data files with their
  // sidecar. Unreadable directories count as empty (the routes report them when used).
  std::map<std::string, std::uint64_t> out;
  std::error_code ec;
  try {
    for (const auto& client : stdfs::directory_iterator(root_ / ".wal", ec)) {
      if (!client.is_directory(ec)) continue;
      auto& total = out[client.path().filename().string()];
      for (const auto& system : stdfs::directory_iterator(client.path(), ec)) {
        if (!system.is_directory(ec)) continue;
        for (const auto& dir : stdfs::directory_iterator(system.path(), ec)) {
          if (!is_wal_dir(dir.path().filename().string()) || !dir.is_directory(ec)) continue;
          for (const auto& entry : stdfs::directory_iterator(dir.path(), ec)) {
            const auto name = entry.path().filename().string();
            if (!parse_wal_file_name(name)) continue;
            std::error_code side_ec;
            if (!stdfs::exists(dir.path() / (name + std::string(sidecar_suffix)), side_ec))
              continue;
            const auto size = entry.file_size(side_ec);
            if (!side_ec) total += size;
          }
        }
      }
    }
  } catch (const stdfs::filesystem_error&) {
    // A directory that went away or could not be read while walking: counted as far as read.
  }
  return out;
}

std::map<std::string, std::uint64_t> posix_wal_store::usage() const {
  std::lock_guard lock(mutex_);
  return usage_;
}

void posix_wal_store::recount() {
  // Puts wait meanwhile: one that lands between the walk and the swap would be lost.
  std::lock_guard lock(mutex_);
  usage_ = count_usage();
}

std::optional<stdfs::path> posix_wal_store::system_relative(const wal_key& key) const {
  if (!fs::is_safe_name(key.client) || !wire::wal::is_system_id(key.system)) return std::nullopt;
  return stdfs::path(".wal") / key.client / key.system;
}

result<std::optional<wal_system_meta>> posix_wal_store::read_meta(
    const stdfs::path& system_dir) const {
  std::error_code ec;
  const auto text = posix_files::read_whole_file(system_dir / "meta.json", sidecar_limit, ec);
  if (ec == std::errc::no_such_file_or_directory) return std::nullopt;
  if (ec) return ec;
  auto meta = wal_system_meta_from_json(*text);
  if (!meta) return std::make_error_code(std::errc::illegal_byte_sequence);
  return meta;
}

result<wal_system_meta> posix_wal_store::claim_system(const wal_key& key,
                                                      std::uint64_t segment_size) {
  const auto relative = system_relative(key);
  if (!relative || !wal::valid_segment_size(segment_size)) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  const auto dir = root_ / *relative;
  std::lock_guard lock(mutex_);
  auto existing = read_meta(dir);
  if (!existing) return existing.error();
  if (*existing) return **existing;
  if (auto ec = posix_files::make_durable_dirs(root_, *relative)) return ec;
  const wal_system_meta meta{segment_size, std::chrono::system_clock::now()};
  if (auto ec = fs::write_file_atomically(dir / "meta.json", to_json(meta) + "\n")) return ec;
  return meta;
}

result<std::optional<wal_system_meta>> posix_wal_store::system_meta(const wal_key& key) const {
  const auto relative = system_relative(key);
  if (!relative) return std::nullopt;
  return read_meta(root_ / *relative);
}

std::optional<wal_stored_file> posix_wal_store::read_file(const stdfs::path& dir,
                                                          const std::string& name) const {
  std::error_code ec;
  if (!stdfs::is_regular_file(dir / name, ec)) return std::nullopt;
  const auto text =
      posix_files::read_whole_file(dir / (name + std::string(sidecar_suffix)), sidecar_limit, ec);
  if (!text) return std::nullopt;
  auto meta = wal_unit_meta_from_json(*text);
  if (!meta) return std::nullopt;
  return wal_stored_file{name, std::move(*meta)};
}

result<wal_put_result> posix_wal_store::put(wal_put_request request) {
  const auto relative = system_relative(request.key);
  const auto parsed = parse_wal_file_name(request.name.file);
  if (!relative || !parsed || *parsed != request.name) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  const auto dir_relative = *relative / request.name.dir;
  const auto dir = root_ / dir_relative;
  wal_put_result done{wal_put_outcome::created, {request.name.file, request.meta}};

  std::lock_guard lock(mutex_);
  // Any codec variant of the stem holds the same WAL: the first one stored stays.
  for (const auto& variant : wal_codec_variants(request.name.stem)) {
    std::error_code ec;
    if (!stdfs::exists(dir / variant, ec)) continue;
    const auto existing = read_file(dir, variant);
    if (!existing) return std::make_error_code(std::errc::io_error);
    done.outcome = existing->meta.plaintext_sha256 == request.meta.plaintext_sha256
                       ? wal_put_outcome::identical
                       : wal_put_outcome::conflict;
    done.stored = *existing;
    stdfs::remove(request.spooled, ec);
    return done;
  }
  if (auto ec = posix_files::make_durable_dirs(root_, dir_relative)) return ec;
  const auto target = dir / request.name.file;
  if (auto ec = fs::write_file_atomically(stdfs::path(target).concat(std::string(sidecar_suffix)),
                                          to_json(request.meta) + "\n")) {
    return ec;
  }
  if (::rename(request.spooled.c_str(), target.c_str()) != 0) return errno_code();
  usage_[request.key.client] += request.meta.stored_size;  // in place: listed from now on
  if (auto ec = fs::fsync_directory(dir)) return ec;
  return done;
}

result<std::vector<wal_stored_file>> posix_wal_store::list_dir(const wal_key& key,
                                                               std::string_view dir) const {
  std::vector<wal_stored_file> out;
  const auto relative = system_relative(key);
  if (!relative || !is_wal_dir(dir)) return out;
  const auto path = root_ / *relative / dir;
  std::error_code ec;
  stdfs::directory_iterator it(path, ec);
  if (ec == std::errc::no_such_file_or_directory) return out;
  if (ec) return ec;
  for (const auto& entry : it) {
    const auto name = entry.path().filename().string();
    const auto parsed = parse_wal_file_name(name);
    if (!parsed || parsed->dir != dir) continue;  // sidecars, temp files
    if (auto file = read_file(path, name)) out.push_back(std::move(*file));
  }
  std::sort(out.begin(), out.end(),
            [](const wal_stored_file& a, const wal_stored_file& b) { return a.name < b.name; });
  return out;
}

result<std::vector<std::string>> posix_wal_store::list_names(const wal_key& key) const {
  std::vector<std::string> out;
  const auto relative = system_relative(key);
  if (!relative) return out;
  std::error_code ec;
  stdfs::directory_iterator top(root_ / *relative, ec);
  if (ec == std::errc::no_such_file_or_directory) return out;
  if (ec) return ec;
  for (const auto& dir_entry : top) {
    const auto dir = dir_entry.path().filename().string();
    if (!is_wal_dir(dir) || !dir_entry.is_directory()) continue;
    for (const auto& entry : stdfs::directory_iterator(dir_entry.path(), ec)) {
      const auto name = entry.path().filename().string();
      const auto parsed = parse_wal_file_name(name);
      std::error_code side_ec;
      // A data file without its sidecar cannot be: the sidecar goes first.
      if (parsed && parsed->dir == dir &&
          stdfs::exists(dir_entry.path() / (name + std::string(sidecar_suffix)), side_ec)) {
        out.push_back(name);
      }
    }
    if (ec) return ec;
  }
  std::sort(out.begin(), out.end());
  return out;
}

result<std::optional<wal_stored_file>> posix_wal_store::find(const wal_key& key,
                                                             const wal_file_name& name) const {
  const auto relative = system_relative(key);
  if (!relative || !is_wal_dir(name.dir)) return std::nullopt;
  return read_file(root_ / *relative / name.dir, name.file);
}

result<wal_put_outcome> posix_wal_store::put_gap(const wal_key& key,
                                                 const wire::wal::gap_record& gap) {
  const auto relative = system_relative(key);
  if (!relative) return std::make_error_code(std::errc::invalid_argument);
  const auto dir_relative = *relative / wal_gaps_dir;
  const auto target = root_ / dir_relative / wal_gap_file_name(gap);
  std::lock_guard lock(mutex_);
  std::error_code ec;
  if (stdfs::exists(target, ec)) return wal_put_outcome::identical;
  if (auto made = posix_files::make_durable_dirs(root_, dir_relative)) return made;
  if (auto written = fs::write_file_atomically(target, wire::wal::encode_gap(gap) + "\n"))
    return written;
  return wal_put_outcome::created;
}

result<std::vector<wire::wal::gap_record>> posix_wal_store::list_gaps(const wal_key& key) const {
  std::vector<wire::wal::gap_record> out;
  const auto relative = system_relative(key);
  if (!relative) return out;
  const auto dir = root_ / *relative / wal_gaps_dir;
  std::error_code ec;
  stdfs::directory_iterator it(dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return out;
  if (ec) return ec;
  for (const auto& entry : it) {
    const auto name = entry.path().filename().string();
    if (!name.ends_with(sidecar_suffix) || name.starts_with(".")) continue;  // temp files
    std::error_code read_ec;
    const auto text = posix_files::read_whole_file(entry.path(), sidecar_limit, read_ec);
    if (!text) continue;
    if (auto gap = wire::wal::decode_gap(*text)) out.push_back(std::move(*gap));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.timeline, a.from, a.to) < std::tie(b.timeline, b.from, b.to);
  });
  return out;
}

result<std::uint64_t> posix_wal_store::count_gaps(const std::string& client) const {
  std::uint64_t n = 0;
  if (!fs::is_safe_name(client)) return n;
  std::error_code ec;
  stdfs::directory_iterator systems(root_ / ".wal" / client, ec);
  if (ec == std::errc::no_such_file_or_directory) return n;
  if (ec) return ec;
  for (const auto& system : systems) {
    const auto gaps = list_gaps({client, system.path().filename().string()});
    if (!gaps) return gaps.error();
    n += gaps->size();
  }
  return n;
}

result<wal_put_outcome> posix_wal_store::put_basebackup_mark(
    const wal_key& key, const wire::wal::basebackup_mark& mark) {
  const auto relative = system_relative(key);
  const auto file = wal_mark_file_name(mark.id);
  if (!relative || !file) return std::make_error_code(std::errc::invalid_argument);
  const auto dir_relative = *relative / wal_marks_dir;
  const auto target = root_ / dir_relative / *file;
  std::lock_guard lock(mutex_);
  std::error_code ec;
  const auto text = posix_files::read_whole_file(target, sidecar_limit, ec);
  if (text) {
    const auto stored = wire::wal::decode_mark(*text);
    return stored && *stored == mark ? wal_put_outcome::identical : wal_put_outcome::conflict;
  }
  if (ec != std::errc::no_such_file_or_directory) return ec;
  if (auto made = posix_files::make_durable_dirs(root_, dir_relative)) return made;
  if (auto written = fs::write_file_atomically(target, wire::wal::encode_mark(mark) + "\n"))
    return written;
  return wal_put_outcome::created;
}

result<std::vector<wire::wal::basebackup_mark>> posix_wal_store::list_basebackup_marks(
    const wal_key& key) const {
  std::vector<wire::wal::basebackup_mark> out;
  const auto relative = system_relative(key);
  if (!relative) return out;
  std::error_code ec;
  stdfs::directory_iterator it(root_ / *relative / wal_marks_dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return out;
  if (ec) return ec;
  for (const auto& entry : it) {
    const auto name = entry.path().filename().string();
    if (!name.ends_with(sidecar_suffix) || name.starts_with(".")) continue;  // temp files
    std::error_code read_ec;
    const auto text = posix_files::read_whole_file(entry.path(), sidecar_limit, read_ec);
    // Removed since the listing: gone. Unreadable: an error, not a mark less (retention would
    // take the backup for unmarked and its WAL for unneeded).
    if (read_ec == std::errc::no_such_file_or_directory) continue;
    if (!text) return read_ec ? read_ec : std::make_error_code(std::errc::io_error);
    auto mark = wire::wal::decode_mark(*text);
    if (!mark || wal_mark_file_name(mark->id) != name)
      return std::make_error_code(std::errc::illegal_byte_sequence);
    out.push_back(std::move(*mark));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

result<std::vector<std::string>> posix_wal_store::systems(const std::string& client) const {
  std::vector<std::string> out;
  if (!fs::is_safe_name(client)) return out;
  std::error_code ec;
  stdfs::directory_iterator it(root_ / ".wal" / client, ec);
  if (ec == std::errc::no_such_file_or_directory) return out;
  if (ec) return ec;
  for (const auto& entry : it) {
    auto name = entry.path().filename().string();
    if (wire::wal::is_system_id(name)) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

result<std::vector<std::string>> posix_wal_store::list_segments(const wal_key& key) const {
  std::vector<std::string> out;
  const auto relative = system_relative(key);
  if (!relative) return out;
  std::error_code ec;
  stdfs::directory_iterator it(root_ / *relative, ec);
  if (ec == std::errc::no_such_file_or_directory) return out;
  if (ec) return ec;
  for (const auto& entry : it) {
    auto name = entry.path().filename().string();
    std::error_code type_ec;
    if (wal::is_segment_name(name) && entry.is_directory(type_ec)) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::error_code posix_wal_store::remove_segment(const wal_key& key, std::string_view segment) {
  const auto relative = system_relative(key);
  if (!relative || !wal::is_segment_name(segment)) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  const auto system_dir = root_ / *relative;
  const auto dir = system_dir / std::string(segment);
  std::lock_guard lock(mutex_);
  std::error_code ec;
  std::vector<stdfs::path> data;
  std::vector<stdfs::path> rest;
  for (const auto& entry : stdfs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    const auto parsed = parse_wal_file_name(name);
    (parsed && parsed->dir == segment ? data : rest).push_back(entry.path());
  }
  if (ec == std::errc::no_such_file_or_directory) return {};
  if (ec) return ec;
  for (const auto& path : data) {
    std::error_code size_ec;
    std::error_code side_ec;
    const auto size = stdfs::file_size(path, size_ec);
    const bool counted = stdfs::exists(stdfs::path(path).concat(sidecar_suffix), side_ec);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_code();
    if (counted && !size_ec) {
      auto& used = usage_[key.client];
      used -= std::min(used, size);
    }
  }
  for (const auto& path : rest) {
    if (stdfs::remove(path, ec); ec) return ec;
  }
  if (stdfs::remove(dir, ec); ec) return ec;
  return fs::fsync_directory(system_dir);
}

std::error_code posix_wal_store::remove_record(const wal_key& key, std::string_view dir,
                                               const std::string& file) {
  const auto relative = system_relative(key);
  if (!relative) return std::make_error_code(std::errc::invalid_argument);
  const auto record_dir = root_ / *relative / std::string(dir);
  std::lock_guard lock(mutex_);
  std::error_code ec;
  if (!stdfs::remove(record_dir / file, ec)) return ec;
  return fs::fsync_directory(record_dir);
}

std::error_code posix_wal_store::remove_gap(const wal_key& key, const wire::wal::gap_record& gap) {
  return remove_record(key, wal_gaps_dir, wal_gap_file_name(gap));
}

std::error_code posix_wal_store::remove_basebackup_mark(const wal_key& key,
                                                        std::string_view backup_id) {
  const auto file = wal_mark_file_name(backup_id);
  if (!file) return std::make_error_code(std::errc::invalid_argument);
  return remove_record(key, wal_marks_dir, *file);
}

result<std::unique_ptr<object_reader>> posix_wal_store::open_range(const wal_key& key,
                                                                   const wal_file_name& name,
                                                                   std::uint64_t first,
                                                                   std::uint64_t length) const {
  const auto relative = system_relative(key);
  if (!relative || !is_wal_dir(name.dir)) {
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  return posix_files::open_file_range(root_ / *relative / name.dir / name.file, first, length);
}

}  // namespace pgship::receiver
