#include "storage.hpp"
#include <algorithm>
#include <cerrno>
#include <fstream>
#include <random>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_to.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <pgship/common/checksum_line.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/time_text.hpp>

namespace pgship::receiver {
namespace {

namespace stdfs = std::filesystem;

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

boost::json::object record_object(const backup_record& r) {
  boost::json::object o;
  o["id"] = r.id;
  o["filename"] = r.id;  // the field name the FastAPI receiver used
  o["client"] = r.client;
  o["database"] = r.database;
  o["size"] = r.size;
  o["sha256"] = r.sha256;
  o["created_at"] = format_utc(r.taken);
  o["uploaded_at"] = format_utc(r.uploaded);
  return o;
}

std::optional<std::string> read_small_file(const stdfs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(64 * 1024, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return std::nullopt;
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// Creates each missing directory of `dir` below `root` and syncs its parent, so the new
// directory entry survives a crash.
std::error_code make_durable_dirs(const stdfs::path& root, const stdfs::path& relative) {
  stdfs::path current = root;
  for (const auto& part : relative) {
    const stdfs::path next = current / part;
    std::error_code ec;
    if (stdfs::create_directory(next, ec)) {
      if (auto sync_ec = fs::fsync_directory(current)) return sync_ec;
    } else if (ec) {
      return ec;
    }
    current = next;
  }
  return {};
}

}  // namespace

std::string to_json(const backup_record& record) {
  return boost::json::serialize(record_object(record));
}

std::string to_json(const std::vector<backup_record>& records) {
  boost::json::array a;
  for (const auto& r : records)
    a.push_back(record_object(r));
  return boost::json::serialize(a);
}

storage::storage(stdfs::path root) : root_(std::move(root)) {
  stdfs::create_directories(incoming_dir());
  scan();
}

stdfs::path storage::new_incoming_path(std::string_view prefix) const {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return incoming_dir() / fmt::format("{}-{:016x}.part", prefix, rng());
}

std::optional<backup_record> storage::read_record(const stdfs::path& dump) const {
  const auto json_text = read_small_file(stdfs::path(dump).replace_extension(".json"));
  if (!json_text) return std::nullopt;
  boost::system::error_code ec;
  const auto value = boost::json::parse(*json_text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.as_object();
  backup_record r;
  try {
    r.id = boost::json::value_to<std::string>(o.at("id"));
    r.client = boost::json::value_to<std::string>(o.at("client"));
    r.database = boost::json::value_to<std::string>(o.at("database"));
    r.size = boost::json::value_to<std::uint64_t>(o.at("size"));
    r.sha256 = boost::json::value_to<std::string>(o.at("sha256"));
    const auto taken = parse_utc(boost::json::value_to<std::string>(o.at("created_at")));
    const auto uploaded = parse_utc(boost::json::value_to<std::string>(o.at("uploaded_at")));
    if (!taken || !uploaded) return std::nullopt;
    r.taken = *taken;
    r.uploaded = *uploaded;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return r;
}

void storage::scan() {
  // Single-request uploads cannot resume: whatever they left is debris. tus uploads
  // (.data/.info) are kept for resumption and expired by their own sweeper.
  for (const auto& entry : stdfs::directory_iterator(incoming_dir())) {
    const auto file_name = entry.path().filename().string();
    // .part: single-request uploads; .*.tmp*: half-written files of write_file_atomically.
    if (entry.path().extension() == ".part" ||
        (file_name.starts_with(".") && file_name.find(".tmp") != std::string::npos)) {
      spdlog::info("removing interrupted upload {}", entry.path().filename().string());
      std::error_code ignored;
      stdfs::remove(entry.path(), ignored);
    }
  }
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> usage;
  for (const auto& client_dir : stdfs::directory_iterator(root_)) {
    const auto client = client_dir.path().filename().string();
    // .incoming/, .quarantine/ and state files are not clients.
    if (!client_dir.is_directory() || !fs::is_safe_name(client) || client.starts_with(".")) {
      continue;
    }
    for (const auto& db_dir : stdfs::directory_iterator(client_dir.path())) {
      if (!db_dir.is_directory()) continue;
      for (const auto& file : stdfs::directory_iterator(db_dir.path())) {
        const auto& p = file.path();
        const auto name = p.filename().string();
        if (name.starts_with(".") && name.find(".tmp") != std::string::npos) {
          std::error_code ignored;
          stdfs::remove(p, ignored);  // a sidecar write cut short by a crash
          continue;
        }
        if (name.ends_with(".json") || name.ends_with(".sha256")) {
          // A sidecar whose dump never arrived: a crash between the two renames.
          if (!has_backup_beside(db_dir.path(), name)) {
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
  std::lock_guard lock(mutex_);
  usage_ = std::move(usage);
}

std::error_code storage::commit(const stdfs::path& incoming, const std::string& client,
                                const std::string& file_name, const sha256_digest& digest,
                                std::uint64_t size, commit_outcome& outcome,
                                backup_record& record) {
  const auto name = parse_backup_name(file_name);
  if (!name || !fs::is_safe_name(client)) return std::make_error_code(std::errc::invalid_argument);

  record = backup_record{file_name,      client,      name->database, size,
                         to_hex(digest), name->taken, clock::now()};
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
    stdfs::remove(incoming, ec);
    return {};
  }
  // x.dump.age and x.dump.zst would share the record x.dump.json: the second one is refused
  // (a record left by a commit cut short, with no file of its own, is overwritten).
  if (const auto other = read_record(target);
      other && other->id != file_name && stdfs::exists(dir / other->id, ec)) {
    outcome = commit_outcome::conflict;
    stdfs::remove(incoming, ec);
    return {};
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
  if (::rename(incoming.c_str(), target.c_str()) != 0) return {errno, std::generic_category()};
  if ((ec = fs::fsync_directory(dir))) return ec;
  usage_[client].first += size;
  usage_[client].second += 1;
  outcome = commit_outcome::created;
  return {};
}

std::vector<backup_record> storage::list(const std::string& client,
                                         const std::optional<std::string>& database) const {
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
  std::sort(out.begin(), out.end(), [](const backup_record& a, const backup_record& b) {
    return a.taken != b.taken ? a.taken > b.taken : a.id > b.id;
  });
  return out;
}

std::optional<backup_record> storage::find(const std::string& client, const std::string& id) const {
  const auto name = parse_backup_name(id);
  if (!name || !fs::is_safe_name(client)) return std::nullopt;
  const stdfs::path dump = root_ / client / name->database / id;
  std::error_code ec;
  if (!stdfs::is_regular_file(dump, ec)) return std::nullopt;
  return read_record(dump);
}

stdfs::path storage::path_of(const backup_record& record) const {
  return root_ / record.client / record.database / record.id;
}

std::error_code storage::remove(const std::string& client, const std::string& id) {
  const auto record = find(client, id);
  if (!record) return std::make_error_code(std::errc::no_such_file_or_directory);
  const auto dump = path_of(*record);
  std::lock_guard lock(mutex_);
  // The dump goes first: without it the sidecars are ignored (and swept at start-up).
  if (::unlink(dump.c_str()) != 0) return {errno, std::generic_category()};
  std::error_code ignored;
  stdfs::remove(stdfs::path(dump).concat(".sha256"), ignored);
  stdfs::remove(stdfs::path(dump).replace_extension(".json"), ignored);
  fs::fsync_directory(dump.parent_path());
  auto& u = usage_[client];
  u.first -= std::min(u.first, record->size);
  u.second -= std::min<std::uint64_t>(u.second, 1);
  return {};
}

std::error_code storage::quarantine(const backup_record& record, dev_t dev, ino_t ino) {
  const auto dump = path_of(record);
  const stdfs::path relative = stdfs::path(record.client) / record.database;
  std::lock_guard lock(mutex_);
  // Still the backup the scrub read (not one removed and uploaded again meanwhile).
  const auto current = read_record(dump);
  struct stat st {};
  if (!current || current->sha256 != record.sha256 || ::lstat(dump.c_str(), &st) != 0 ||
      st.st_dev != dev || st.st_ino != ino) {
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  if (auto ec = make_durable_dirs(root_, stdfs::path(".quarantine") / relative)) return ec;
  // A second corruption of the same name keeps the first one's evidence: a subdirectory.
  auto dir = quarantine_dir() / relative;
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
  for (const auto& side :
       {stdfs::path(dump).concat(".sha256"), stdfs::path(dump).replace_extension(".json")}) {
    std::error_code ignored;
    stdfs::rename(side, dir / side.filename(), ignored);
  }
  fs::fsync_directory(dump.parent_path());
  fs::fsync_directory(dir);
  auto& u = usage_[record.client];
  u.first -= std::min(u.first, record.size);
  u.second -= std::min<std::uint64_t>(u.second, 1);
  return {};
}

std::size_t storage::quarantined() const {
  std::size_t n = 0;
  std::error_code ec;
  for (stdfs::recursive_directory_iterator it(quarantine_dir(), ec), end; !ec && it != end;
       it.increment(ec)) {
    if (parse_backup_name(it->path().filename().string())) ++n;
  }
  return n;
}

bool storage::hold(const std::string& key, const std::string& client, std::uint64_t bytes,
                   std::optional<std::uint64_t> quota) {
  std::lock_guard lock(mutex_);
  auto& entry = held_[key];
  if (bytes <= entry.bytes && entry.client == client) return true;
  if (quota) {
    const auto stored = usage_.find(client);
    std::uint64_t total = stored == usage_.end() ? 0 : stored->second.first;
    for (const auto& [other, h] : held_) {
      if (other != key && h.client == client) total += h.bytes;
    }
    if (total + bytes > *quota) {
      if (entry.bytes == 0) held_.erase(key);
      return false;
    }
  }
  entry = {client, bytes};
  return true;
}

void storage::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  held_.erase(key);
}

std::uint64_t storage::client_bytes(const std::string& client) const {
  std::lock_guard lock(mutex_);
  const auto it = usage_.find(client);
  return it == usage_.end() ? 0 : it->second.first;
}

std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> storage::usage() const {
  std::lock_guard lock(mutex_);
  return usage_;
}

std::optional<std::uint64_t> storage::free_bytes() const {
  struct statvfs s {};
  if (::statvfs(root_.c_str(), &s) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
}

bool storage::writable() const {
  return ::access(incoming_dir().c_str(), W_OK | X_OK) == 0;
}

}  // namespace pgship::receiver
