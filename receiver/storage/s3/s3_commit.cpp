#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/checksum_line.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/time_text.hpp>

#include "storage/s3/part_shipper.hpp"
#include "storage/s3/s3_storage.hpp"

// The write side of s3_storage: a backup's bytes go up (in parts while they arrive, or in one
// PUT), then its checksum and last its record; uploads a stopped receiver left are aborted.
// Listing, reading, removal, manifests and the count of the bucket are in s3_storage.cpp.

namespace pgship::receiver::s3 {
namespace {

namespace stdfs = std::filesystem;
using sys_clock = std::chrono::system_clock;

// Up to this size a backup goes up in one PUT signed with the hash taken on arrival, so the
// engine itself checks the whole file; beyond it, in parts.
constexpr std::uint64_t single_put_limit = 64ull << 20;

// The staged_upload the routes hold: a part_shipper, abandoned unless committed.
class staged_parts final : public staged_upload {
 public:
  explicit staged_parts(std::shared_ptr<part_shipper> s) : shipper(std::move(s)) {}
  ~staged_parts() override {
    if (shipper) shipper->abandon();
  }
  staged_parts(const staged_parts&) = delete;
  staged_parts& operator=(const staged_parts&) = delete;
  void grew(std::uint64_t size) override { shipper->grew(size); }
  void arrived(std::string_view bytes) override { shipper->arrived(bytes); }
  std::shared_ptr<part_shipper> shipper;
};

}  // namespace

void s3_storage::abort_stale_uploads() {
  // This replica's own, from the journals its uploads keep in the spool.
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(cfg_.spool_dir, ec)) {
    if (entry.path().extension() != ".s3upload") continue;
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto nl = text.find('\n');
    const auto key = text.substr(0, nl);
    const auto id = nl == std::string::npos ? std::string() : text.substr(nl + 1);
    const auto upload_id = id.substr(0, id.find('\n'));
    if (key.empty() || upload_id.empty()) {
      spdlog::warn("ignoring the unreadable S3 upload journal {}", entry.path().string());
    } else if (bucket_.abort_multipart(key, upload_id)) {
      continue;  // kept for the next start
    } else {
      spdlog::info("aborted the S3 upload of {} that a stopped receiver left", key);
    }
    std::error_code ignored;
    stdfs::remove(entry.path(), ignored);
  }
  // Any replica's that nobody finished in a week.
  std::vector<upload_entry> uploads;
  if (bucket_.list_multipart(cfg_.prefix, uploads)) return;
  const auto now = sys_clock::now();
  for (const auto& u : uploads) {
    if (now - u.initiated < cfg_.stale_upload_age) continue;
    if (!bucket_.abort_multipart(u.key, u.upload_id)) {
      spdlog::info("aborted the stale S3 upload of {} begun {}", u.key, format_utc(u.initiated));
    }
  }
}

std::unique_ptr<staged_upload> s3_storage::begin(const stdfs::path& spooled,
                                                 const std::string& client,
                                                 const std::string& file_name) {
  const auto name = parse_backup_name(file_name);
  if (!name || !fs::is_safe_name(client)) return nullptr;
  auto journal = stdfs::path(spooled).replace_extension(".s3upload");
  return std::make_unique<staged_parts>(std::make_shared<part_shipper>(
      bucket_, parts_, data_key(client, name->database, file_name), lock_headers(),
      cfg_.object_lock_days.has_value(), spooled, std::move(journal)));
}

std::error_code s3_storage::upload(const stdfs::path& spooled, const std::string& key,
                                   const sha256_digest& digest, std::uint64_t size,
                                   std::unique_ptr<staged_upload> staged, std::string& etag) {
  std::shared_ptr<part_shipper> shipper;
  if (auto* parts = dynamic_cast<staged_parts*>(staged.get())) shipper = parts->shipper;
  if ((shipper && shipper->started()) || size > single_put_limit) {
    if (!shipper) {
      // Not staged (a tus upload, or one from before a restart): every part goes up now.
      staged = std::make_unique<staged_parts>(std::make_shared<part_shipper>(
          bucket_, parts_, key, lock_headers(), cfg_.object_lock_days.has_value(), spooled,
          stdfs::path(spooled).replace_extension(".s3upload")));
      shipper = static_cast<staged_parts*>(staged.get())->shipper;
    }
    return shipper->finish(size, digest, etag);
  }
  // One PUT, signed with the hash taken on arrival: the engine refuses other bytes.
  const int fd = ::open(spooled.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {errno, std::generic_category()};
  auto headers = lock_headers();
  if (cfg_.object_lock_days) {  // S3 wants Content-MD5 on writes with a retention
    const auto md5 = content_md5(fd, 0, size);
    if (!md5) {
      ::close(fd);
      return std::make_error_code(std::errc::io_error);
    }
    headers.emplace_back("content-md5", *md5);
  }
  const auto ec = bucket_.put_file(key, fd, 0, size, to_hex(digest), headers, etag);
  ::close(fd);
  return ec;
}

result<commit_result> s3_storage::do_commit(commit_request request) {
  auto& [spooled, client, file_name, digest, size, staged] = request;
  const auto name = parse_backup_name(file_name);
  if (!name || !fs::is_safe_name(client)) return std::make_error_code(std::errc::invalid_argument);
  commit_result done{commit_outcome::created,
                     backup_record{file_name, client, name->database, size, to_hex(digest),
                                   name->taken, sys_clock::now()}};
  auto& [outcome, record] = done;
  const auto key = data_key(client, name->database, file_name);
  const auto record_key = key + std::string(record_suffix);

  // One commit of a name at a time in this receiver (another replica's commit of the same name
  // at the same moment is caught by the ETag check below).
  const key_locks::held held(writing_, key);
  // Nothing is overwritten: a stored record makes this identical or a conflict.
  std::optional<std::string> existing_text;
  if (auto ec = bucket_.get_text(record_key, existing_text)) return ec;
  if (existing_text) {
    const auto existing = record_from_json(*existing_text);
    outcome = existing && existing->sha256 == record.sha256 ? commit_outcome::identical
                                                            : commit_outcome::conflict;
    if (existing) record = *existing;
    staged.reset();
    std::error_code ignored;
    stdfs::remove(spooled, ignored);
    return done;
  }
  const auto headers = lock_headers();
  std::string etag;
  if (auto ec = upload(spooled, key, digest, size, std::move(staged), etag)) return ec;
  // Ceph RGW 16 keeps no retention given at CreateMultipartUpload: it is set again on the
  // completed object, before the record makes the backup visible.
  if (!headers.empty()) {
    if (auto ec = bucket_.put_retention(key, headers[0].second, headers[1].second)) return ec;
  }
  // What the engine holds now is what the record will say.
  std::optional<object_entry> stored;
  if (auto ec = bucket_.head(key, stored)) return ec;
  if (!stored || stored->size != size || (!etag.empty() && stored->etag != etag)) {
    spdlog::error(
        "S3 commit {}: the stored object ({} bytes, ETag {}) is not the one written ({} bytes, "
        "ETag {}): another upload of this name at the same time?",
        key, stored ? stored->size : 0, stored ? stored->etag : "none", size, etag);
    return std::make_error_code(std::errc::io_error);
  }
  if (auto ec = bucket_.put(key + ".sha256", format_checksum_line(digest, file_name), headers)) {
    return ec;
  }
  // Last: from here on the backup is listed.
  if (auto ec = bucket_.put(record_key, to_json(record) + "\n", headers)) return ec;
  std::error_code ignored;
  stdfs::remove(spooled, ignored);
  return done;
}
}  // namespace pgship::receiver::s3
