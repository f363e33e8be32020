#pragma once
// The state of resumable (tus) uploads on disk and in memory: .incoming/<uid>.tus (JSON: owner,
// file name, length or deferred, expected sha256) beside <uid>.data, whose size is the durable
// offset; which uploads have a PATCH running; the running hash of each between PATCHes.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include <pgship/common/sha256.hpp>

#include "state/quota_ledger.hpp"
#include "storage/storage.hpp"

namespace pgship::receiver {

struct upload_info {
  std::string uid;
  std::string client;
  std::string file_name;
  std::uint64_t length = 0;
  /// creation-defer-length: the length (and the whole-file sha256, unless the metadata had
  /// it) arrive with a later PATCH; until then `length` is 0 and nothing can complete.
  bool deferred = false;
  bool has_expected = true;
  sha256_digest expected{};
  /// Committed: the backup is stored, no data is left, HEAD answers the full offset until
  /// the state expires.
  bool completed = false;
};

// Uploads with a PATCH in progress: a second PATCH (or DELETE) meanwhile gets 423.
class busy_set {
 public:
  bool try_lock(const std::string& uid) {
    std::lock_guard lock(mutex_);
    return busy_.insert(uid).second;
  }
  void unlock(const std::string& uid) {
    std::lock_guard lock(mutex_);
    busy_.erase(uid);
  }

 private:
  std::mutex mutex_;
  std::set<std::string> busy_;
};

// Holds an upload's lock. Released before the answer is sent: a client that gets the answer
// may send its next PATCH at once, on another connection and thread.
struct busy_guard {
  // A constructor, not an aggregate: optional::emplace needs one under clang 14 (the fuzz build),
  // which has no parenthesised aggregate initialisation.
  busy_guard(busy_set& s, std::string id) : set(s), uid(std::move(id)) {}
  busy_guard(const busy_guard&) = delete;
  busy_guard& operator=(const busy_guard&) = delete;

  busy_set& set;
  std::string uid;
  bool held = true;
  void release() {
    if (held) set.unlock(uid);
    held = false;
  }
  ~busy_guard() { release(); }
};

// The running whole-file hash of an upload, kept between PATCHes so each byte is hashed once.
// After a restart it is rebuilt from the data file on the next PATCH.
class hash_cache {
 public:
  std::optional<sha256> take(const std::string& uid, std::uint64_t offset) {
    std::lock_guard lock(mutex_);
    const auto it = hashes_.find(uid);
    if (it == hashes_.end() || it->second.bytes() != offset) return std::nullopt;
    auto h = std::move(it->second);
    hashes_.erase(it);
    return h;
  }
  void put(const std::string& uid, sha256 h) {
    std::lock_guard lock(mutex_);
    hashes_.insert_or_assign(uid, std::move(h));
  }
  void drop(const std::string& uid) {
    std::lock_guard lock(mutex_);
    hashes_.erase(uid);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, sha256> hashes_;
};

// The store's staging of each upload (S3: its multipart upload), told about the bytes after
// every PATCH, once they are final (a chunk whose checksum fails is cut off first). Lost in a
// restart: the commit then ships the whole file.
class staging_cache {
 public:
  /// `size` bytes of the upload's data are final; starts the staging on first use.
  void grew(storage& store, const std::string& uid, const std::filesystem::path& data,
            const std::string& client, const std::string& file_name, std::uint64_t size) {
    std::lock_guard lock(mutex_);
    auto& staged = staged_[uid];
    if (!staged) staged = store.begin(data, client, file_name);
    if (staged) {
      staged->grew(size);
    } else {
      staged_.erase(uid);
    }
  }
  std::unique_ptr<staged_upload> take(const std::string& uid) {
    std::lock_guard lock(mutex_);
    auto node = staged_.extract(uid);
    return node ? std::move(node.mapped()) : nullptr;
  }
  /// Abandons the staging (the upload was removed).
  void drop(const std::string& uid) { take(uid).reset(); }

 private:
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<staged_upload>> staged_;
};

/// Shared by the tus handlers and the housekeeping sweep. Thread-safe. Holds only what the
/// uploads' state needs: where it lies, how long it lives, the quota it holds and the store
/// that decides whether an interrupted commit happened.
struct tus_uploads {
  tus_uploads(std::filesystem::path incoming_dir, std::chrono::milliseconds upload_expiry,
              quota_ledger& ledger, storage& backend)
      : dir(std::move(incoming_dir)), expiry(upload_expiry), quota(ledger), store(backend) {}
  tus_uploads(const tus_uploads&) = delete;
  tus_uploads& operator=(const tus_uploads&) = delete;

  const std::filesystem::path dir;         // the spool's .incoming/
  const std::chrono::milliseconds expiry;  // UPLOAD_EXPIRY
  quota_ledger& quota;
  storage& store;
  busy_set busy;
  hash_cache hashes;
  staging_cache staging;

  std::filesystem::path info_path(const std::string& uid) const { return dir / (uid + ".tus"); }
  std::filesystem::path data_path(const std::string& uid) const { return dir / (uid + ".data"); }
  /// Present while a PATCH with Upload-Checksum streams: the offset it started at.
  std::filesystem::path unverified_path(const std::string& uid) const {
    return dir / (uid + ".unverified");
  }
};

bool valid_uid(std::string_view uid);
/// 32 random hex digits.
std::string new_uid();
std::optional<upload_info> load_info(const tus_uploads& st, const std::string& uid);
std::error_code save_info(const tus_uploads& st, const upload_info& info);
/// Bytes of the upload on disk: what survives a crash, and where the client resumes.
std::uint64_t durable_offset(const tus_uploads& st, const std::string& uid);
/// Removes the upload: its data, its state, its cached hash and its hold on the quota.
void remove_upload(tus_uploads& st, const std::string& uid);
/// After its backup was committed: the state says so (kept until UPLOAD_EXPIRY, so a client
/// that missed the answer learns the outcome), everything else of the upload goes.
std::error_code mark_completed(tus_uploads& st, upload_info info);
/// Upload-Expires: last write + UPLOAD_EXPIRY, as an HTTP date.
std::string expires_at(const tus_uploads& st, const std::string& uid);
/// Re-reads the first `offset` bytes after a restart, when the running hash is gone.
std::optional<sha256> rehash(const std::filesystem::path& path, std::uint64_t offset);

/// Removes incomplete uploads not touched for UPLOAD_EXPIRY (skipping any mid-PATCH).
void expire_tus_uploads(tus_uploads& uploads);
/// Removes .data files whose .tus state is gone. For start-up.
void remove_orphaned_data(tus_uploads& uploads);
/// A PATCH with Upload-Checksum is all or nothing, also across a crash: its bytes count only
/// once the checksum matched. Marks them (no fsync: the marker guards against a crashed
/// process, whose page cache survives; after a power cut the whole-file check still catches
/// what is left), then clears the mark when the PATCH has its outcome.
std::error_code mark_unverified_from(const tus_uploads& st, const std::string& uid,
                                     std::uint64_t offset);
void clear_unverified(const tus_uploads& st, const std::string& uid);
/// At start-up: cuts the unverified bytes of PATCHes a crash interrupted off their uploads.
void discard_unverified_chunks(tus_uploads& uploads);
/// An unfinished upload without data whose backup is stored with its sha256 was committed (a
/// crash, or a failed state write, came between the two): marks it completed, in `info` and
/// on disk when it can. Returns whether it was.
bool settle_if_committed(tus_uploads& st, upload_info& info);
/// At start-up: finishes what a crash interrupted between a commit and its state update. An
/// upload without data whose backup is stored with its sha256 was committed: marked
/// completed. One without data and without such a backup can never resume: removed.
void settle_interrupted_commits(tus_uploads& uploads);
/// At start-up: every unfinished upload holds its length against its client's quota again.
void hold_unfinished_uploads(tus_uploads& uploads);

/// Parses an Upload-Metadata header ("key base64value,key2 base64value2"); nullopt when
/// malformed (bad base64, empty or duplicate key).
std::optional<std::map<std::string, std::string>> parse_upload_metadata(std::string_view header);

}  // namespace pgship::receiver
