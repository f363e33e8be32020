#include "ingest/tus/tus_store.hpp"
#include <ctime>
#include <fstream>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_to.hpp>
#include <fcntl.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgship/common/base64.hpp>
#include <pgship/common/config_values.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/io/file_io.hpp>
#include <pgship/common/io/filters.hpp>

#include "ingest/incoming_file.hpp"

namespace pgship::receiver {

namespace stdfs = std::filesystem;
using tus_state = tus_uploads;

bool valid_uid(std::string_view uid) {
  return uid.size() == 32 && uid.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string new_uid() {
  sha256_digest bytes{};
  // Unguessable ids cost nothing, though the owner check is what protects an upload.
  if (RAND_bytes(bytes.data(), 16) != 1) throw std::runtime_error("RAND_bytes failed");
  return to_hex(bytes).substr(0, 32);
}

std::optional<upload_info> load_info(const tus_state& st, const std::string& uid) {
  std::ifstream in(st.info_path(uid));
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), {});
  boost::system::error_code ec;
  const auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  try {
    const auto& o = v.as_object();
    upload_info info;
    info.uid = uid;
    info.client = boost::json::value_to<std::string>(o.at("client"));
    info.file_name = boost::json::value_to<std::string>(o.at("filename"));
    info.length = boost::json::value_to<std::uint64_t>(o.at("length"));
    if (const auto* d = o.if_contains("deferred")) info.deferred = d->as_bool();
    const auto sha = boost::json::value_to<std::string>(o.at("sha256"));
    info.has_expected = !sha.empty();
    if (info.has_expected) {
      const auto expected = digest_from_hex(sha);
      if (!expected) return std::nullopt;
      info.expected = *expected;
    } else if (!info.deferred) {
      return std::nullopt;  // only a deferred upload may lack its hash
    }
    if (const auto* done = o.if_contains("completed")) info.completed = done->as_bool();
    return info;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::error_code save_info(const tus_state& st, const upload_info& info) {
  boost::json::object o;
  o["client"] = info.client;
  o["filename"] = info.file_name;
  o["length"] = info.length;
  if (info.deferred) o["deferred"] = true;
  o["sha256"] = info.has_expected ? to_hex(info.expected) : std::string();
  if (info.completed) o["completed"] = true;
  return fs::write_file_atomically(st.info_path(info.uid), boost::json::serialize(o) + "\n");
}

std::uint64_t durable_offset(const tus_state& st, const std::string& uid) {
  std::error_code ec;
  const auto size = stdfs::file_size(st.data_path(uid), ec);
  return ec ? 0 : size;
}

void remove_upload(tus_state& st, const std::string& uid) {
  std::error_code ignored;
  stdfs::remove(st.data_path(uid), ignored);
  stdfs::remove(st.info_path(uid), ignored);
  clear_unverified(st, uid);
  st.hashes.drop(uid);
  st.staging.drop(uid);
  st.quota.release(uid);
}

std::error_code mark_completed(tus_state& st, upload_info info) {
  info.completed = true;
  const auto ec = save_info(st, info);
  std::error_code ignored;
  stdfs::remove(st.data_path(info.uid), ignored);
  clear_unverified(st, info.uid);
  st.hashes.drop(info.uid);
  st.staging.drop(info.uid);
  st.quota.release(info.uid);
  return ec;
}

std::string expires_at(const tus_state& st, const std::string& uid) {
  struct stat s {};
  std::time_t base = std::time(nullptr);
  // A completed upload has no data left: its state was written last.
  if (::stat(st.data_path(uid).c_str(), &s) == 0 || ::stat(st.info_path(uid).c_str(), &s) == 0) {
    base = s.st_mtime;
  }
  const std::time_t t = base + std::chrono::duration_cast<std::chrono::seconds>(st.expiry).count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// Re-reads the first `offset` bytes after a restart, when the running hash is gone.
std::optional<sha256> rehash(const stdfs::path& path, std::uint64_t offset) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  sha256 h;
  io::hash_sink into(h);
  const auto ec = io::pump_file(fd, into, 0, offset, 1 << 20);
  ::close(fd);
  if (ec) return std::nullopt;
  return h;
}

std::optional<std::map<std::string, std::string>> parse_upload_metadata(std::string_view header) {
  std::map<std::string, std::string> out;
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view pair = config::trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (pair.empty()) continue;
    const auto space = pair.find(' ');
    const std::string key(pair.substr(0, space));
    std::optional<std::string> value = std::string{};
    if (space != std::string_view::npos)
      value = base64_decode(config::trim(pair.substr(space + 1)));
    if (key.empty() || !value || out.count(key)) return std::nullopt;
    out.emplace(key, std::move(*value));
  }
  return out;
}

void expire_tus_uploads(tus_uploads& st) {
  const auto cutoff = stdfs::file_time_type::clock::now() - st.expiry;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(st.dir, ec)) {
    if (entry.path().extension() != ".tus") continue;
    const std::string uid = entry.path().stem().string();
    const auto data = st.dir / (uid + ".data");
    std::error_code tec;
    auto touched = stdfs::last_write_time(data, tec);
    if (tec) touched = stdfs::last_write_time(entry.path(), tec);
    if (tec || touched > cutoff) continue;
    if (!st.busy.try_lock(uid)) continue;
    busy_guard guard{st.busy, uid};
    remove_upload(st, uid);
    spdlog::info("expired resumable upload {}: untouched for longer than UPLOAD_EXPIRY", uid);
  }
}

void remove_orphaned_data(tus_uploads& st) {
  // Data whose .tus state is gone (a crash between the two removals) can never resume.
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(st.dir, ec)) {
    const auto ext = entry.path().extension();
    if (ext != ".data" && ext != ".unverified") continue;
    if (!stdfs::exists(st.info_path(entry.path().stem().string()))) {
      spdlog::info("removing orphaned upload data {}", entry.path().filename().string());
      std::error_code ignored;
      stdfs::remove(entry.path(), ignored);
    }
  }
}

bool settle_if_committed(tus_state& st, upload_info& info) {
  std::error_code ec;
  if (info.completed || stdfs::exists(st.data_path(info.uid), ec)) return false;
  // The commit renames the data into place (or removes it when the same backup is stored),
  // then updates the state: data gone means the commit ran, if the store agrees.
  const auto stored = st.store.find(info.client, info.file_name);
  if (!stored || !*stored || !info.has_expected || (*stored)->sha256 != to_hex(info.expected)) {
    return false;
  }
  if (const auto save_ec = mark_completed(st, info)) {
    spdlog::warn("resumable upload {}: cannot record its completion: {}", info.uid,
                 save_ec.message());
  }
  info.completed = true;
  return true;
}

void settle_interrupted_commits(tus_uploads& st) {
  std::vector<std::string> uids;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(st.dir, ec)) {
    if (entry.path().extension() == ".tus") uids.push_back(entry.path().stem().string());
  }
  for (const auto& uid : uids) {
    auto info = load_info(st, uid);
    if (!info || info->completed || stdfs::exists(st.data_path(uid))) continue;
    if (settle_if_committed(st, *info)) {
      spdlog::info("resumable upload {}: its backup was committed before a crash; finished", uid);
    } else {
      remove_upload(st, uid);
      spdlog::info("resumable upload {}: its data is gone and no such backup is stored; removed",
                   uid);
    }
  }
}

void hold_unfinished_uploads(tus_uploads& st) {
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(st.dir, ec)) {
    if (entry.path().extension() != ".tus") continue;
    if (const auto info = load_info(st, entry.path().stem().string()); info && !info->completed) {
      // Already accepted: held whatever the quota says now (a deferred one, what it has).
      const auto held = info->deferred ? durable_offset(st, info->uid) : info->length;
      st.quota.hold(info->uid, info->client, held, std::nullopt);
    }
  }
}

std::error_code mark_unverified_from(const tus_uploads& st, const std::string& uid,
                                     std::uint64_t offset) {
  std::ofstream out(st.unverified_path(uid), std::ios::trunc);
  out << offset << '\n';
  out.close();
  return out ? std::error_code{} : std::make_error_code(std::errc::io_error);
}

void clear_unverified(const tus_uploads& st, const std::string& uid) {
  std::error_code ignored;
  stdfs::remove(st.unverified_path(uid), ignored);
}

void discard_unverified_chunks(tus_uploads& st) {
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(st.dir, ec)) {
    if (entry.path().extension() != ".unverified") continue;
    const std::string uid = entry.path().stem().string();
    std::ifstream in(entry.path());
    std::uint64_t offset = 0;
    if (!(in >> offset)) continue;  // unreadable: left to remove_orphaned_data or the expiry
    std::error_code size_ec;
    const auto size = stdfs::file_size(st.data_path(uid), size_ec);
    if (!size_ec && size > offset) {
      incoming_file data;
      if (data.open_at(st.data_path(uid), offset) || data.sync()) continue;
      spdlog::info(
          "resumable upload {}: {} bytes of a PATCH that a crash interrupted before its "
          "checksum was checked discarded",
          uid, size - offset);
    }
    clear_unverified(st, uid);
  }
}

}  // namespace pgship::receiver
