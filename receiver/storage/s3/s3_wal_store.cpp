#include "storage/s3/s3_wal_store.hpp"
#include <algorithm>

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgship/common/fs.hpp>
#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

#include "storage/s3/object_range.hpp"
#include "storage/s3/wal_object_meta.hpp"

namespace pgship::receiver::s3 {
namespace {

namespace stdfs = std::filesystem;

constexpr std::string_view meta_name = "meta.json";

bool is_wal_dir(std::string_view dir) {
  return dir == wal_history_dir || wal::is_segment_name(dir);
}

wal_put_outcome compare(const wal_stored_file& stored, const wal_unit_meta& incoming) {
  return stored.meta.plaintext_sha256 == incoming.plaintext_sha256 ? wal_put_outcome::identical
                                                                   : wal_put_outcome::conflict;
}

// A file descriptor closed at the end of the scope.
struct open_fd {
  explicit open_fd(const stdfs::path& p) : fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~open_fd() {
    if (fd >= 0) ::close(fd);
  }
  open_fd(const open_fd&) = delete;
  open_fd& operator=(const open_fd&) = delete;
  int fd;
};

}  // namespace

s3_wal_store::s3_wal_store(bucket& b, std::string prefix)
    : bucket_(b), prefix_(std::move(prefix)) {}

std::optional<std::string> s3_wal_store::system_prefix(const wal_key& key) const {
  if (!fs::is_safe_name(key.client) || !wire::wal::is_system_id(key.system)) return std::nullopt;
  return root(prefix_) + key.client + "/" + key.system + "/";
}

result<std::optional<wal_system_meta>> s3_wal_store::system_meta(const wal_key& key) const {
  const auto system = system_prefix(key);
  if (!system) return std::nullopt;
  std::optional<std::string> text;
  if (auto ec = bucket_.get_text(*system + std::string(meta_name), text)) return ec;
  if (!text) return std::nullopt;
  auto meta = wal_system_meta_from_json(*text);
  if (!meta) return std::make_error_code(std::errc::illegal_byte_sequence);
  return meta;
}

result<wal_system_meta> s3_wal_store::claim_system(const wal_key& key, std::uint64_t segment_size) {
  const auto system = system_prefix(key);
  if (!system || !wal::valid_segment_size(segment_size)) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  const auto object_key = *system + std::string(meta_name);
  const key_locks::held held(stems_, object_key);
  auto existing = system_meta(key);
  if (!existing) return existing.error();
  if (*existing) return **existing;
  const wal_system_meta meta{segment_size, std::chrono::system_clock::now()};
  const auto text = to_json(meta) + "\n";
  std::error_code ec = std::make_error_code(std::errc::not_supported);
  if (conditional_put_) {
    std::string etag;
    ec = bucket_.put_if_absent(object_key, {.text = text}, {}, etag);
    if (ec == std::errc::file_exists) {
      // Another replica claimed it first: its meta holds.
      auto theirs = system_meta(key);
      if (!theirs) return theirs.error();
      if (*theirs) return **theirs;
      return std::make_error_code(std::errc::io_error);
    }
  }
  if (ec == std::errc::not_supported) {
    conditional_put_ = false;
    ec = bucket_.put(object_key, text, {});
  }
  if (ec) return ec;
  return meta;
}

result<std::optional<wal_stored_file>> s3_wal_store::head_file(
    const std::string& object_key, const std::string& file, const std::string& listed_etag) const {
  if (!listed_etag.empty()) {
    std::lock_guard lock(mutex_);
    if (const auto it = metas_.find(object_key);
        it != metas_.end() && it->second.first == listed_etag) {
      return wal_stored_file{file, it->second.second};
    }
  }
  std::optional<object_entry> head;
  if (auto ec = bucket_.head(object_key, head)) return ec;
  if (!head) return std::nullopt;
  auto meta = wal_unit_meta_from_object(head->metadata);
  if (!meta) {
    // Not written by this store (its meta would be there): no file of the archive.
    spdlog::warn("S3: {} has no WAL meta; ignored", object_key);
    return std::nullopt;
  }
  std::lock_guard lock(mutex_);
  metas_[object_key] = {head->etag, *meta};
  return wal_stored_file{file, std::move(*meta)};
}

std::error_code s3_wal_store::upload(const wal_put_request& request,
                                     const std::string& object_key) {
  const open_fd spool(request.spooled);
  if (spool.fd < 0) return {errno, std::generic_category()};
  struct stat st {};
  if (::fstat(spool.fd, &st) != 0) return {errno, std::generic_category()};
  if (static_cast<std::uint64_t>(st.st_size) != request.meta.stored_size) {
    return std::make_error_code(std::errc::io_error);
  }
  // Signed with the hash taken on arrival: the engine refuses other bytes.
  const body_source body{.fd = spool.fd,
                         .offset = 0,
                         .length = request.meta.stored_size,
                         .sha256 = to_hex(request.meta.stored_sha256)};
  const auto headers = to_object_metadata(request.meta);
  std::string etag;
  if (conditional_put_) {
    const auto ec = bucket_.put_if_absent(object_key, body, headers, etag);
    if (ec != std::errc::not_supported) return ec;
    conditional_put_ = false;
    spdlog::info(
        "S3: the engine has no conditional PUT (If-None-Match: *); WAL files are looked up "
        "before they are put instead");
  }
  return bucket_.put_file(object_key, spool.fd, 0, body.length, body.sha256, headers, etag);
}

result<wal_put_result> s3_wal_store::put(wal_put_request request) {
  const auto system = system_prefix(request.key);
  const auto parsed = parse_wal_file_name(request.name.file);
  if (!system || !parsed || *parsed != request.name) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  const auto dir = *system + request.name.dir + "/";
  const auto object_key = dir + request.name.file;
  wal_put_result done{wal_put_outcome::created, {request.name.file, request.meta}};
  const auto taken = [&](wal_stored_file stored) -> result<wal_put_result> {
    done.outcome = compare(stored, request.meta);
    done.stored = std::move(stored);
    std::error_code ignored;
    stdfs::remove(request.spooled, ignored);
    return done;
  };

  const key_locks::held held(stems_, dir + request.name.stem);
  // Any codec variant of the stem holds the same WAL: the first one stored stays.
  for (const auto& variant : wal_codec_variants(request.name.stem)) {
    auto existing = head_file(dir + variant, variant);
    if (!existing) return existing.error();
    if (*existing) return taken(std::move(**existing));
  }
  if (const auto ec = upload(request, object_key)) {
    if (ec != std::errc::file_exists) return ec;
    // Another replica stored this very name since the lookup.
    auto theirs = head_file(object_key, request.name.file);
    if (!theirs) return theirs.error();
    if (!*theirs) return std::make_error_code(std::errc::io_error);
    return taken(std::move(**theirs));
  }
  std::error_code ignored;
  stdfs::remove(request.spooled, ignored);
  {
    std::lock_guard lock(mutex_);
    if (usage_) (*usage_)[request.key.client] += request.meta.stored_size;
  }
  return done;
}

result<wal_put_outcome> s3_wal_store::put_gap(const wal_key& key,
                                              const wire::wal::gap_record& gap) {
  const auto system = system_prefix(key);
  if (!system) return std::make_error_code(std::errc::invalid_argument);
  const auto object_key = *system + std::string(wal_gaps_dir) + "/" + wal_gap_file_name(gap);
  const key_locks::held held(stems_, object_key);
  std::optional<object_entry> existing;
  if (auto ec = bucket_.head(object_key, existing)) return ec;
  if (existing) return wal_put_outcome::identical;
  if (auto ec = bucket_.put(object_key, wire::wal::encode_gap(gap) + "\n", {})) return ec;
  return wal_put_outcome::created;
}

result<std::vector<wire::wal::gap_record>> s3_wal_store::list_gaps(const wal_key& key) const {
  std::vector<wire::wal::gap_record> out;
  const auto system = system_prefix(key);
  if (!system) return out;
  std::vector<object_entry> objects;
  if (auto ec = bucket_.list(*system + std::string(wal_gaps_dir) + "/", objects)) return ec;
  for (const auto& o : objects) {
    std::optional<std::string> text;
    if (auto ec = bucket_.get_text(o.key, text)) return ec;
    if (!text) continue;  // removed since the listing
    if (auto gap = wire::wal::decode_gap(*text)) out.push_back(std::move(*gap));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.timeline, a.from, a.to) < std::tie(b.timeline, b.from, b.to);
  });
  return out;
}

result<std::uint64_t> s3_wal_store::count_gaps(const std::string& client) const {
  std::uint64_t n = 0;
  if (!fs::is_safe_name(client)) return n;
  std::vector<std::string> systems;
  if (auto ec = bucket_.list_dirs(root(prefix_) + client + "/", systems)) return ec;
  for (const auto& dir : systems) {
    std::vector<object_entry> objects;
    if (auto ec = bucket_.list(dir + std::string(wal_gaps_dir) + "/", objects)) return ec;
    n += objects.size();
  }
  return n;
}

void s3_wal_store::recount() {
  std::lock_guard lock(mutex_);
  usage_.reset();  // listed again by the next usage()
}

std::map<std::string, std::uint64_t> s3_wal_store::usage() const {
  {
    std::lock_guard lock(mutex_);
    if (usage_) return *usage_;
  }
  // `<root>/<client>/<system>/<dir>/<file>`: the data objects (meta.json aside).
  std::vector<object_entry> objects;
  const auto root_key = root(prefix_);
  std::map<std::string, std::uint64_t> counted;
  if (bucket_.list(root_key, objects)) return counted;  // unreachable: asked again next time
  for (const auto& o : objects) {
    const std::string_view rest = std::string_view(o.key).substr(root_key.size());
    const auto slash = rest.find('/');
    const auto last = rest.rfind('/');
    if (slash == std::string_view::npos || !parse_wal_file_name(rest.substr(last + 1))) continue;
    counted[std::string(rest.substr(0, slash))] += o.size;
  }
  std::lock_guard lock(mutex_);
  if (!usage_) usage_ = std::move(counted);
  return *usage_;
}

result<std::vector<wal_stored_file>> s3_wal_store::list_dir(const wal_key& key,
                                                            std::string_view dir) const {
  std::vector<wal_stored_file> out;
  const auto system = system_prefix(key);
  if (!system || !is_wal_dir(dir)) return out;
  const auto dir_prefix = *system + std::string(dir) + "/";
  std::vector<object_entry> objects;
  if (auto ec = bucket_.list(dir_prefix, objects)) return ec;
  for (const auto& o : objects) {
    const auto file = o.key.substr(dir_prefix.size());
    const auto parsed = parse_wal_file_name(file);
    if (!parsed || parsed->dir != dir) continue;
    auto stored = head_file(o.key, file, o.etag);
    if (!stored) return stored.error();
    if (*stored) out.push_back(std::move(**stored));  // else deleted since the listing
  }
  std::sort(out.begin(), out.end(),
            [](const wal_stored_file& a, const wal_stored_file& b) { return a.name < b.name; });
  return out;
}

result<std::vector<std::string>> s3_wal_store::list_names(const wal_key& key) const {
  std::vector<std::string> out;
  const auto system = system_prefix(key);
  if (!system) return out;
  std::vector<object_entry> objects;
  if (auto ec = bucket_.list(*system, objects)) return ec;
  for (const auto& o : objects) {
    const auto relative = std::string_view(o.key).substr(system->size());
    const auto slash = relative.find('/');
    if (slash == std::string_view::npos) continue;  // meta.json
    const auto file = relative.substr(slash + 1);
    const auto parsed = parse_wal_file_name(file);
    if (parsed && parsed->dir == relative.substr(0, slash)) out.emplace_back(file);
  }
  std::sort(out.begin(), out.end());
  return out;
}

result<wal_put_outcome> s3_wal_store::put_basebackup_mark(const wal_key& key,
                                                          const wire::wal::basebackup_mark& mark) {
  const auto system = system_prefix(key);
  const auto file = wal_mark_file_name(mark.id);
  if (!system || !file) return std::make_error_code(std::errc::invalid_argument);
  const auto object_key = *system + std::string(wal_marks_dir) + "/" + *file;
  const key_locks::held held(stems_, object_key);
  const auto judge = [&]() -> result<std::optional<wal_put_outcome>> {
    std::optional<std::string> text;
    if (auto ec = bucket_.get_text(object_key, text)) return ec;
    if (!text) return std::nullopt;
    const auto stored = wire::wal::decode_mark(*text);
    return stored && *stored == mark ? wal_put_outcome::identical : wal_put_outcome::conflict;
  };
  const auto existing = judge();
  if (!existing) return existing.error();
  if (*existing) return **existing;
  const auto text = wire::wal::encode_mark(mark) + "\n";
  std::error_code ec = std::make_error_code(std::errc::not_supported);
  if (conditional_put_) {
    std::string etag;
    ec = bucket_.put_if_absent(object_key, {.text = text}, {}, etag);
    if (ec == std::errc::file_exists) {
      // Another replica recorded it first: its mark holds.
      const auto theirs = judge();
      if (!theirs) return theirs.error();
      if (*theirs) return **theirs;
      return std::make_error_code(std::errc::io_error);
    }
  }
  if (ec == std::errc::not_supported) {
    conditional_put_ = false;
    ec = bucket_.put(object_key, text, {});
  }
  if (ec) return ec;
  return wal_put_outcome::created;
}

result<std::vector<wire::wal::basebackup_mark>> s3_wal_store::list_basebackup_marks(
    const wal_key& key) const {
  std::vector<wire::wal::basebackup_mark> out;
  const auto system = system_prefix(key);
  if (!system) return out;
  const auto dir_prefix = *system + std::string(wal_marks_dir) + "/";
  std::vector<object_entry> objects;
  if (auto ec = bucket_.list(dir_prefix, objects)) return ec;
  for (const auto& o : objects) {
    std::optional<std::string> text;
    if (auto ec = bucket_.get_text(o.key, text)) return ec;
    if (!text) continue;  // deleted since the listing
    auto mark = wire::wal::decode_mark(*text);
    // Unreadable: an error, not a mark less (retention would take its backup for unmarked).
    if (!mark || wal_mark_file_name(mark->id) != o.key.substr(dir_prefix.size()))
      return std::make_error_code(std::errc::illegal_byte_sequence);
    out.push_back(std::move(*mark));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

result<std::vector<std::string>> s3_wal_store::list_systems(const std::string& client) const {
  std::vector<std::string> out;
  if (!fs::is_safe_name(client)) return out;
  const auto client_prefix = root(prefix_) + client + "/";
  std::vector<std::string> dirs;
  if (auto ec = bucket_.list_dirs(client_prefix, dirs)) return ec;
  for (const auto& dir : dirs) {
    // "<client prefix><system>/"
    auto name = dir.substr(client_prefix.size(), dir.size() - client_prefix.size() - 1);
    if (wire::wal::is_system_id(name)) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

result<std::vector<std::string>> s3_wal_store::list_segments(const wal_key& key) const {
  std::vector<std::string> out;
  const auto system = system_prefix(key);
  if (!system) return out;
  std::vector<std::string> dirs;
  if (auto ec = bucket_.list_dirs(*system, dirs)) return ec;
  for (const auto& dir : dirs) {
    auto name = dir.substr(system->size(), dir.size() - system->size() - 1);
    if (wal::is_segment_name(name)) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::error_code s3_wal_store::remove_segment(const wal_key& key, std::string_view segment) {
  const auto system = system_prefix(key);
  if (!system || !wal::is_segment_name(segment)) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  const auto dir_prefix = *system + std::string(segment) + "/";
  std::vector<object_entry> objects;
  if (auto ec = bucket_.list(dir_prefix, objects)) return ec;
  std::vector<std::string> keys;
  std::uint64_t freed = 0;
  for (const auto& o : objects) {
    keys.push_back(o.key);
    if (parse_wal_file_name(std::string_view(o.key).substr(dir_prefix.size()))) freed += o.size;
  }
  if (keys.empty()) return {};
  if (auto ec = bucket_.remove(keys)) return ec;
  std::lock_guard lock(mutex_);
  if (usage_) {
    auto& used = (*usage_)[key.client];
    used -= std::min(used, freed);
  }
  return {};
}

std::error_code s3_wal_store::remove_gap(const wal_key& key, const wire::wal::gap_record& gap) {
  const auto system = system_prefix(key);
  if (!system) return std::make_error_code(std::errc::invalid_argument);
  return bucket_.remove({*system + std::string(wal_gaps_dir) + "/" + wal_gap_file_name(gap)});
}

std::error_code s3_wal_store::remove_basebackup_mark(const wal_key& key,
                                                     std::string_view backup_id) {
  const auto system = system_prefix(key);
  const auto file = wal_mark_file_name(backup_id);
  if (!system || !file) return std::make_error_code(std::errc::invalid_argument);
  return bucket_.remove({*system + std::string(wal_marks_dir) + "/" + *file});
}

result<std::optional<wal_stored_file>> s3_wal_store::find(const wal_key& key,
                                                          const wal_file_name& name) const {
  const auto system = system_prefix(key);
  if (!system || !is_wal_dir(name.dir)) return std::nullopt;
  return head_file(*system + name.dir + "/" + name.file, name.file);
}

result<std::unique_ptr<object_reader>> s3_wal_store::open_range(const wal_key& key,
                                                                const wal_file_name& name,
                                                                std::uint64_t first,
                                                                std::uint64_t length) const {
  const auto system = system_prefix(key);
  if (!system || !is_wal_dir(name.dir)) {
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  return open_object_range(bucket_, *system + name.dir + "/" + name.file, first, length);
}

}  // namespace pgship::receiver::s3
