#include "storage/memory/memory_wal_store.hpp"
#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include <pgship/common/wal/wal_names.hpp>

namespace pgship::receiver {
namespace {

class bytes_reader final : public object_reader {
 public:
  bytes_reader(std::shared_ptr<const std::string> bytes, std::uint64_t first, std::uint64_t length)
      : bytes_(std::move(bytes)), at_(first), end_(first + length) {}
  std::error_code read(std::span<char> buf, std::size_t& got) override {
    got = 0;
    if (at_ >= end_) return {};
    if (end_ > bytes_->size()) return std::make_error_code(std::errc::io_error);
    got = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), end_ - at_));
    std::memcpy(buf.data(), bytes_->data() + at_, got);
    at_ += got;
    return {};
  }
  std::string identity() const override { return "memory"; }

 private:
  std::shared_ptr<const std::string> bytes_;
  std::uint64_t at_;
  std::uint64_t end_;
};

}  // namespace

result<wal_system_meta> memory_wal_store::claim_system(const wal_key& key,
                                                       std::uint64_t segment_size) {
  if (!wal::valid_segment_size(segment_size)) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  std::lock_guard lock(mutex_);
  const auto [it, inserted] = systems_.try_emplace(key_of(key));
  if (inserted) it->second.meta = {segment_size, std::chrono::system_clock::now()};
  return it->second.meta;
}

result<std::optional<wal_system_meta>> memory_wal_store::system_meta(const wal_key& key) const {
  std::lock_guard lock(mutex_);
  const auto it = systems_.find(key_of(key));
  if (it == systems_.end()) return std::nullopt;
  return it->second.meta;
}

result<wal_put_outcome> memory_wal_store::put_gap(const wal_key& key,
                                                  const wire::wal::gap_record& gap) {
  std::lock_guard lock(mutex_);
  const bool created = gaps_[key_of(key)].try_emplace(wal_gap_file_name(gap), gap).second;
  return created ? wal_put_outcome::created : wal_put_outcome::identical;
}

result<std::vector<wire::wal::gap_record>> memory_wal_store::list_gaps(const wal_key& key) const {
  std::lock_guard lock(mutex_);
  std::vector<wire::wal::gap_record> out;
  if (const auto it = gaps_.find(key_of(key)); it != gaps_.end()) {
    for (const auto& [name, gap] : it->second)
      out.push_back(gap);  // names sort as timeline, from, to (fixed-width hex)
  }
  return out;
}

result<std::uint64_t> memory_wal_store::count_gaps(const std::string& client) const {
  std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  for (const auto& [key, records] : gaps_)
    if (key.starts_with(client + '/')) n += records.size();
  return n;
}

result<wal_put_outcome> memory_wal_store::put_basebackup_mark(
    const wal_key& key, const wire::wal::basebackup_mark& mark) {
  if (!wal_mark_file_name(mark.id)) return std::make_error_code(std::errc::invalid_argument);
  std::lock_guard lock(mutex_);
  const auto [it, created] = marks_[key_of(key)].try_emplace(mark.id, mark);
  if (created) return wal_put_outcome::created;
  return it->second == mark ? wal_put_outcome::identical : wal_put_outcome::conflict;
}

result<std::vector<wire::wal::basebackup_mark>> memory_wal_store::list_basebackup_marks(
    const wal_key& key) const {
  std::lock_guard lock(mutex_);
  std::vector<wire::wal::basebackup_mark> out;
  if (const auto it = marks_.find(key_of(key)); it != marks_.end()) {
    for (const auto& [id, mark] : it->second)
      out.push_back(mark);
  }
  return out;
}

result<std::vector<std::string>> memory_wal_store::systems(const std::string& client) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  const auto prefix = client + '/';
  for (const auto& [k, system] : systems_)
    if (k.starts_with(prefix)) out.push_back(k.substr(prefix.size()));
  return out;
}

result<wal_put_result> memory_wal_store::put(wal_put_request request) {
  const auto parsed = parse_wal_file_name(request.name.file);
  if (!parsed || *parsed != request.name) return std::make_error_code(std::errc::invalid_argument);
  std::ifstream in(request.spooled, std::ios::binary);
  if (!in) return std::make_error_code(std::errc::no_such_file_or_directory);
  std::ostringstream text;
  text << in.rdbuf();
  auto bytes = std::make_shared<const std::string>(std::move(text).str());
  if (bytes->size() != request.meta.stored_size ||
      sha256_of(*bytes) != request.meta.stored_sha256) {
    return std::make_error_code(std::errc::io_error);
  }

  std::lock_guard lock(mutex_);
  auto& dir = systems_[key_of(request.key)].dirs[request.name.dir];
  wal_put_result done{wal_put_outcome::created, {request.name.file, request.meta}};
  for (const auto& variant : wal_codec_variants(request.name.stem)) {
    const auto it = dir.find(variant);
    if (it == dir.end()) continue;
    done.outcome = it->second.meta.plaintext_sha256 == request.meta.plaintext_sha256
                       ? wal_put_outcome::identical
                       : wal_put_outcome::conflict;
    done.stored = {variant, it->second.meta};
    break;
  }
  if (done.outcome == wal_put_outcome::created) {
    dir[request.name.file] = {request.meta, std::move(bytes)};
    usage_[request.key.client] += request.meta.stored_size;
  }
  std::error_code ignored;
  std::filesystem::remove(request.spooled, ignored);
  return done;
}

result<std::vector<wal_stored_file>> memory_wal_store::list_dir(const wal_key& key,
                                                                std::string_view dir) const {
  std::vector<wal_stored_file> out;
  std::lock_guard lock(mutex_);
  const auto found = systems_.find(key_of(key));
  if (found == systems_.end()) return out;
  const auto files = found->second.dirs.find(dir);
  if (files == found->second.dirs.end()) return out;
  for (const auto& [name, kept] : files->second)
    out.push_back({name, kept.meta});
  return out;
}

result<std::vector<std::string>> memory_wal_store::list_names(const wal_key& key) const {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  const auto found = systems_.find(key_of(key));
  if (found == systems_.end()) return out;
  for (const auto& [dir, files] : found->second.dirs) {
    for (const auto& [name, stored] : files)
      out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

result<std::optional<wal_stored_file>> memory_wal_store::find(const wal_key& key,
                                                              const wal_file_name& name) const {
  std::lock_guard lock(mutex_);
  const auto found = systems_.find(key_of(key));
  if (found == systems_.end()) return std::nullopt;
  const auto files = found->second.dirs.find(name.dir);
  if (files == found->second.dirs.end()) return std::nullopt;
  const auto it = files->second.find(name.file);
  if (it == files->second.end()) return std::nullopt;
  return wal_stored_file{name.file, it->second.meta};
}

result<std::unique_ptr<object_reader>> memory_wal_store::open_range(const wal_key& key,
                                                                    const wal_file_name& name,
                                                                    std::uint64_t first,
                                                                    std::uint64_t length) const {
  std::lock_guard lock(mutex_);
  const auto found = systems_.find(key_of(key));
  if (found != systems_.end()) {
    const auto files = found->second.dirs.find(name.dir);
    if (files != found->second.dirs.end()) {
      const auto it = files->second.find(name.file);
      if (it != files->second.end()) {
        return std::make_unique<bytes_reader>(it->second.bytes, first, length);
      }
    }
  }
  return std::make_error_code(std::errc::no_such_file_or_directory);
}

result<std::vector<std::string>> memory_wal_store::list_segments(const wal_key& key) const {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  const auto found = systems_.find(key_of(key));
  if (found == systems_.end()) return out;
  for (const auto& [dir, files] : found->second.dirs)
    if (wal::is_segment_name(dir)) out.push_back(dir);
  return out;
}

std::error_code memory_wal_store::remove_segment(const wal_key& key, std::string_view segment) {
  std::lock_guard lock(mutex_);
  const auto found = systems_.find(key_of(key));
  if (found == systems_.end()) return {};
  const auto files = found->second.dirs.find(segment);
  if (files == found->second.dirs.end()) return {};
  auto& used = usage_[key.client];
  for (const auto& [name, kept] : files->second)
    used -= std::min(used, kept.meta.stored_size);
  found->second.dirs.erase(files);
  return {};
}

std::error_code memory_wal_store::remove_gap(const wal_key& key, const wire::wal::gap_record& gap) {
  std::lock_guard lock(mutex_);
  if (const auto it = gaps_.find(key_of(key)); it != gaps_.end())
    it->second.erase(wal_gap_file_name(gap));
  return {};
}

std::error_code memory_wal_store::remove_basebackup_mark(const wal_key& key,
                                                         std::string_view backup_id) {
  std::lock_guard lock(mutex_);
  if (const auto it = marks_.find(key_of(key)); it != marks_.end())
    it->second.erase(std::string(backup_id));
  return {};
}

std::map<std::string, std::uint64_t> memory_wal_store::usage() const {
  std::lock_guard lock(mutex_);
  return usage_;
}

}  // namespace pgship::receiver
