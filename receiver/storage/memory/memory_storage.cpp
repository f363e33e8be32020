#include "storage/memory/memory_storage.hpp"
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/fs.hpp>

namespace pgship::receiver {
namespace {

namespace stdfs = std::filesystem;

std::error_code no_such_backup() {
  return std::make_error_code(std::errc::no_such_file_or_directory);
}

result<std::string> read_spool_file(const stdfs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return no_such_backup();
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::make_error_code(std::errc::io_error);
  return bytes;
}

// Bytes [first, first + length) of one object; EIO past its end, as a cut file reads.
class bytes_reader final : public object_reader {
 public:
  bytes_reader(std::shared_ptr<const std::string> bytes, std::string identity, std::uint64_t first,
               std::uint64_t length)
      : bytes_(std::move(bytes)), identity_(std::move(identity)), offset_(first), left_(length) {}

  std::error_code read(std::span<char> buf, std::size_t& got) override {
    got = 0;
    if (left_ == 0) return {};
    if (offset_ >= bytes_->size()) return std::make_error_code(std::errc::io_error);
    got = static_cast<std::size_t>(
        std::min<std::uint64_t>({buf.size(), left_, bytes_->size() - offset_}));
    std::copy_n(bytes_->data() + offset_, got, buf.data());
    offset_ += got;
    left_ -= got;
    return {};
  }
  std::string identity() const override { return identity_; }

 private:
  std::shared_ptr<const std::string> bytes_;
  std::string identity_;
  std::uint64_t offset_, left_;
};

}  // namespace

std::string memory_bucket::key(const std::string& client, const std::string& id) {
  return client + "/" + id;
}

std::vector<std::string> memory_bucket::names(const std::string& client,
                                              const std::string& database) const {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  for (const auto& [key, o] : backups_) {
    if (o.record.client != client || o.record.database != database) continue;
    out.push_back(o.record.id);
    if (o.manifest) out.push_back(o.manifest->name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

memory_storage::memory_storage(std::shared_ptr<memory_bucket> bucket) : bucket_(std::move(bucket)) {
  refresh();
}

storage_capabilities memory_storage::capabilities() const {
  return {.backend = "memory"};
}

result<commit_result> memory_storage::do_commit(commit_request request) {
  const auto& [spooled, client, file_name, digest, size, staged] = request;
  const auto name = parse_backup_name(file_name);
  if (!name || !fs::is_safe_name(client)) return std::make_error_code(std::errc::invalid_argument);
  auto bytes = read_spool_file(spooled);
  if (!bytes) return bytes.error();
  commit_result done{commit_outcome::created,
                     backup_record{file_name, client, name->database, size, to_hex(digest),
                                   name->taken, std::chrono::system_clock::now()}};
  auto& b = *bucket_;
  {
    std::lock_guard lock(b.mutex_);
    // Nothing is overwritten: a stored backup makes this identical or a conflict.
    if (const auto it = b.backups_.find(memory_bucket::key(client, file_name));
        it != b.backups_.end()) {
      done.outcome = it->second.record.sha256 == done.record.sha256 ? commit_outcome::identical
                                                                    : commit_outcome::conflict;
      done.record = it->second.record;
    } else if (bytes->size() != size || sha256_of(*bytes) != digest) {
      return std::make_error_code(std::errc::io_error);  // not what arrived: nothing is stored
    } else {
      b.backups_[memory_bucket::key(client, file_name)] = {
          done.record, std::make_shared<const std::string>(std::move(*bytes)),
          std::to_string(++b.serial_), std::nullopt};
    }
  }
  std::error_code ignored;
  stdfs::remove(spooled, ignored);
  return done;
}

result<std::vector<backup_record>> memory_storage::list(
    const std::string& client, const std::optional<std::string>& database) const {
  std::vector<backup_record> out;
  const auto& b = *bucket_;
  std::lock_guard lock(b.mutex_);
  const auto prefix = memory_bucket::key(client, "");
  for (auto it = b.backups_.lower_bound(prefix);
       it != b.backups_.end() && it->first.starts_with(prefix); ++it) {
    if (!database || it->second.record.database == *database) out.push_back(it->second.record);
  }
  sort_newest_first(out);
  return out;
}

result<std::optional<backup_record>> memory_storage::find(const std::string& client,
                                                          const std::string& id) const {
  const auto& b = *bucket_;
  std::lock_guard lock(b.mutex_);
  const auto it = b.backups_.find(memory_bucket::key(client, id));
  if (it == b.backups_.end()) return std::nullopt;
  return it->second.record;
}

result<std::unique_ptr<object_reader>> memory_storage::open_range(const backup_record& record,
                                                                  std::uint64_t first,
                                                                  std::uint64_t length) const {
  const auto& b = *bucket_;
  std::lock_guard lock(b.mutex_);
  const auto it = b.backups_.find(memory_bucket::key(record.client, record.id));
  if (it == b.backups_.end()) return no_such_backup();
  return std::make_unique<bytes_reader>(it->second.bytes, it->second.identity, first, length);
}

result<backup_record> memory_storage::do_remove(const std::string& client, const std::string& id) {
  auto& b = *bucket_;
  std::lock_guard lock(b.mutex_);
  const auto it = b.backups_.find(memory_bucket::key(client, id));
  if (it == b.backups_.end()) return no_such_backup();
  auto record = std::move(it->second.record);
  b.backups_.erase(it);  // its manifest goes with it
  return record;
}

std::error_code memory_storage::do_quarantine(const backup_record& record,
                                              const std::string& identity) {
  auto& b = *bucket_;
  std::lock_guard lock(b.mutex_);
  // Still the object the scrub read, under the same record.
  const auto it = b.backups_.find(memory_bucket::key(record.client, record.id));
  if (it == b.backups_.end() || it->second.identity != identity ||
      it->second.record.sha256 != record.sha256) {
    return no_such_backup();
  }
  b.quarantine_.push_back(std::move(it->second));
  b.backups_.erase(it);
  return {};
}

result<store_count> memory_storage::do_count() {
  store_count found;
  const auto& b = *bucket_;
  std::lock_guard lock(b.mutex_);
  for (const auto& [key, o] : b.backups_) {
    auto& u = found.usage[o.record.client];
    u.first += o.record.size;
    u.second += 1;
  }
  found.quarantined = b.quarantine_.size();
  return found;
}

result<manifest_outcome> memory_storage::put_manifest(const backup_record& backup,
                                                      const stored_manifest& m, bool may_replace) {
  if (!manifest_name_beside(backup, m)) return std::make_error_code(std::errc::invalid_argument);
  auto& b = *bucket_;
  std::lock_guard lock(b.mutex_);
  const auto it = b.backups_.find(memory_bucket::key(backup.client, backup.id));
  if (it == b.backups_.end()) return no_such_backup();
  auto& stored = it->second.manifest;
  if (stored && stored->name == m.name && stored->bytes == m.bytes) {
    return manifest_outcome::identical;
  }
  const bool had_one = stored.has_value();
  if (had_one && !may_replace) return manifest_outcome::refused;
  stored = m;
  return had_one ? manifest_outcome::replaced : manifest_outcome::created;
}

result<std::optional<stored_manifest>> memory_storage::get_manifest(
    const backup_record& backup) const {
  if (!may_hold_manifest(backup)) return std::nullopt;
  const auto& b = *bucket_;
  std::lock_guard lock(b.mutex_);
  const auto it = b.backups_.find(memory_bucket::key(backup.client, backup.id));
  if (it == b.backups_.end()) return std::nullopt;
  return it->second.manifest;
}

}  // namespace pgship::receiver
