#include "storage/s3/s3_storage.hpp"
#include <algorithm>
#include <iterator>
#include <set>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/base64.hpp>
#include <pgship/common/config.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/manifest_name.hpp>
#include <pgship/common/redact_url.hpp>
#include <pgship/common/time_text.hpp>

#include "storage/s3/object_range.hpp"

namespace pgship::receiver::s3 {
namespace {

using sys_clock = std::chrono::system_clock;

std::string iso8601(sys_clock::time_point t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  return format_utc(secs);
}

}  // namespace

s3_storage::s3_storage(s3_settings s)
    : cfg_(std::move(s)), bucket_(cfg_.client), wal_(bucket_, cfg_.prefix) {
  const auto where = "bucket " + cfg_.client.bucket + " at " + redact_url(cfg_.client.endpoint);
  if (auto ec = refresh()) {
    throw config::config_error("S3: cannot list " + where + ": " + ec.message() +
                               " (the log line before says what the engine answered)");
  }
  if (cfg_.object_lock_days) {
    bool enabled = false;
    if (auto ec = bucket_.object_lock_enabled(enabled); ec || !enabled) {
      throw config::config_error(
          "S3_OBJECT_LOCK_DAYS is set but " + where +
          " has no object lock (create the bucket with object lock enabled, on an engine that "
          "supports it)");
    }
  }
  if (cfg_.abort_left_uploads) abort_stale_uploads();
}

s3_storage::~s3_storage() {
  parts_.join();  // abandoned uploads are aborted before the bucket goes
}

storage_capabilities s3_storage::capabilities() const {
  return {.backend = "s3",
          .shared = true,
          .object_lock = cfg_.object_lock_days.has_value(),
          .streams_parts = true,
          .stages_outside_spool = true};
}

std::string s3_storage::data_key(const std::string& client, const std::string& database,
                                 const std::string& id) const {
  return cfg_.prefix + client + "/" + database + "/" + id;
}

header_list s3_storage::lock_headers() const {
  if (!cfg_.object_lock_days) return {};
  const auto until = sys_clock::now() + std::chrono::hours(24) * *cfg_.object_lock_days;
  return {{"x-amz-object-lock-mode", "COMPLIANCE"},
          {"x-amz-object-lock-retain-until-date", iso8601(until)}};
}

result<std::vector<backup_record>> s3_storage::list(
    const std::string& client, const std::optional<std::string>& database) const {
  std::vector<backup_record> out;
  if (!fs::is_safe_name(client) || (database && !fs::is_safe_name(*database))) return out;
  const auto prefix = cfg_.prefix + client + "/" + (database ? *database + "/" : "");
  std::vector<object_entry> objects;
  if (auto ec = bucket_.list(prefix, objects)) return ec;
  std::set<std::string> keys;
  for (const auto& o : objects)
    keys.insert(o.key);
  if (!database) {  // the client's whole listing: forget records that are gone
    std::lock_guard lock(mutex_);
    std::erase_if(records_, [&](const auto& r) {
      return r.first.starts_with(prefix) && !keys.contains(r.first);
    });
  }
  for (const auto& o : objects) {
    if (!o.key.ends_with(record_suffix)) continue;
    const auto data = o.key.substr(0, o.key.size() - record_suffix.size());
    const auto slash = data.rfind('/');
    const auto id = data.substr(slash + 1);
    if (!parse_backup_name(id) || !keys.contains(data)) continue;
    std::optional<backup_record> r;
    {
      std::lock_guard lock(mutex_);
      if (const auto it = records_.find(o.key); it != records_.end() && it->second.first == o.etag)
        r = it->second.second;
    }
    if (!r) {
      std::optional<std::string> text;
      if (auto ec = bucket_.get_text(o.key, text)) return ec;
      if (!text) continue;  // removed since the listing
      r = record_from_json(*text);
      if (!r) {
        spdlog::warn("S3: {} is not a backup record; ignored", o.key);
        continue;
      }
      std::lock_guard lock(mutex_);
      records_[o.key] = {o.etag, *r};
    }
    if (r->client != client || r->id != id) continue;
    out.push_back(std::move(*r));
  }
  sort_newest_first(out);
  return out;
}

result<std::optional<backup_record>> s3_storage::find(const std::string& client,
                                                      const std::string& id) const {
  const auto name = parse_backup_name(id);
  if (!name || !fs::is_safe_name(client)) return std::nullopt;
  std::optional<std::string> text;
  if (auto ec = bucket_.get_text(data_key(client, name->database, id) + std::string(record_suffix),
                                 text)) {
    return ec;
  }
  if (!text) return std::nullopt;
  auto out = record_from_json(*text);
  if (out && (out->client != client || out->id != id)) out.reset();
  return out;
}

result<std::unique_ptr<object_reader>> s3_storage::open_range(const backup_record& record,
                                                              std::uint64_t first,
                                                              std::uint64_t length) const {
  return open_object_range(bucket_, data_key(record.client, record.database, record.id), first,
                           length);
}

result<backup_record> s3_storage::do_remove(const std::string& client, const std::string& id) {
  auto record = find(client, id);
  if (!record) return record.error();
  if (!*record) return std::make_error_code(std::errc::no_such_file_or_directory);
  const auto key = data_key(client, (*record)->database, id);
  // The record first: the backup leaves every list at once, and what follows cannot be seen.
  if (auto ec = bucket_.remove({key + std::string(record_suffix)})) return ec;
  {
    std::lock_guard lock(mutex_);
    records_.erase(key + std::string(record_suffix));
  }
  if (auto ec = bucket_.remove({key, key + ".sha256", format_manifest_name(key, true),
                                format_manifest_name(key, false)})) {
    spdlog::warn("S3: {} is out of the list but its bytes were not deleted: {}", key, ec.message());
  }
  return std::move(**record);
}

result<manifest_outcome> s3_storage::put_manifest(const backup_record& backup,
                                                  const stored_manifest& m, bool may_replace) {
  const auto name = manifest_name_beside(backup, m);
  if (!name) return std::make_error_code(std::errc::invalid_argument);
  const auto key = data_key(backup.client, backup.database, m.name);
  const auto other =
      data_key(backup.client, backup.database, format_manifest_name(backup.id, !name->encrypted));
  // One manifest put of a backup at a time in this receiver.
  const key_locks::held held(writing_,
                             data_key(backup.client, backup.database, backup.id) + ".manifest");
  const auto current = find(backup.client, backup.id);
  if (!current) return current.error();
  if (!*current) return std::make_error_code(std::errc::no_such_file_or_directory);
  std::optional<std::string> existing;
  if (auto ec = bucket_.get_text(key, existing)) return ec;
  if (existing && *existing == m.bytes) return manifest_outcome::identical;
  std::optional<object_entry> other_stored;
  if (auto ec = bucket_.head(other, other_stored)) return ec;
  const bool had_one = existing || other_stored;
  if (had_one && !may_replace) return manifest_outcome::refused;
  if (auto ec = bucket_.put(key, m.bytes, lock_headers())) return ec;
  if (other_stored) {
    if (auto ec = bucket_.remove({other})) return ec;
  }
  // A removal of the backup (by another replica) while this went up takes the manifest too.
  if (const auto after = find(backup.client, backup.id); after && !*after) {
    bucket_.remove({key});
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  return had_one ? manifest_outcome::replaced : manifest_outcome::created;
}

result<std::optional<stored_manifest>> s3_storage::get_manifest(const backup_record& backup) const {
  if (!may_hold_manifest(backup)) return std::nullopt;
  for (const bool encrypted : {true, false}) {
    const auto name = format_manifest_name(backup.id, encrypted);
    std::optional<std::string> bytes;
    if (auto ec = bucket_.get_text(data_key(backup.client, backup.database, name), bytes)) {
      return ec;
    }
    if (bytes) return stored_manifest{name, std::move(*bytes)};
  }
  return std::nullopt;
}

std::error_code s3_storage::do_quarantine(const backup_record& record,
                                          const std::string& identity) {
  const auto key = data_key(record.client, record.database, record.id);
  std::optional<object_entry> stored;
  if (auto ec = bucket_.head(key, stored)) return ec;
  const auto current = find(record.client, record.id);
  if (!current) return current.error();
  // Still the object the scrub read, under the same record.
  if (!stored || stored->etag != identity || !*current || (*current)->sha256 != record.sha256) {
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  const auto stamp =
      std::chrono::duration_cast<std::chrono::seconds>(sys_clock::now().time_since_epoch());
  const auto finding = fmt::format("{}.quarantine/{}/{}/{}.{}.json", cfg_.prefix, record.client,
                                   record.database, record.id, stamp.count());
  if (auto ec = bucket_.put(finding, to_json(record) + "\n", lock_headers())) return ec;
  // The bytes stay for a person to look at; without its record the backup is not listed.
  if (auto ec = bucket_.remove({key + std::string(record_suffix)})) return ec;
  return {};
}

std::string s3_storage::problem() const {
  std::lock_guard lock(mutex_);
  return problem_;
}

result<store_count> s3_storage::do_count() {
  // Client by client (and the quarantine), never the physical archive: its many small
  // objects are no backups, and listing them every few seconds would cost more than the rest.
  std::vector<std::string> dirs;
  std::vector<object_entry> objects;
  auto ec = bucket_.list_dirs(cfg_.prefix, dirs);
  for (const auto& dir : dirs) {
    if (ec) break;
    if (dir == s3_wal_store::root(cfg_.prefix)) continue;
    std::vector<object_entry> more;
    ec = bucket_.list(dir, more);
    objects.insert(objects.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
  }
  if (ec) {
    std::lock_guard lock(mutex_);
    problem_ = "cannot list S3 bucket " + cfg_.client.bucket + ": " + ec.message();
    return ec;
  }
  std::map<std::string, std::uint64_t> sizes;
  for (const auto& o : objects)
    sizes[o.key] = o.size;
  store_count found;
  const auto quarantine_prefix = cfg_.prefix + ".quarantine/";
  for (const auto& o : objects) {
    if (o.key.starts_with(quarantine_prefix)) {
      if (o.key.ends_with(record_suffix)) ++found.quarantined;
      continue;
    }
    if (!o.key.ends_with(record_suffix)) continue;
    // <prefix><client>/<database>/<name>.json beside its bytes: one backup.
    const auto data = o.key.substr(0, o.key.size() - record_suffix.size());
    const auto rel = std::string_view(data).substr(cfg_.prefix.size());
    const auto slash = rel.find('/');
    const auto it = sizes.find(data);
    if (slash == std::string_view::npos || it == sizes.end()) continue;
    if (!parse_backup_name(rel.substr(rel.rfind('/') + 1))) continue;
    auto& u = found.usage[std::string(rel.substr(0, slash))];
    u.first += it->second;
    u.second += 1;
  }
  std::lock_guard lock(mutex_);
  problem_.clear();
  return found;
}

}  // namespace pgship::receiver::s3
