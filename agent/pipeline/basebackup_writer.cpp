#include "pipeline/basebackup_writer.hpp"
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include <boost/json/parse.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgship/common/first_few.hpp>

namespace pgship::agent {

namespace json = boost::json;
namespace stdfs = std::filesystem;

namespace {

// A member's name as a path inside the directory; empty when it would leave it.
std::string safe_name(std::string name) {
  while (name.size() > 1 && name.back() == '/')
    name.pop_back();
  if (name.starts_with("./")) name.erase(0, 2);
  if (name.empty() || name.front() == '/') return {};
  std::size_t at = 0;
  while (at <= name.size()) {
    const auto slash = std::min(name.find('/', at), name.size());
    const auto part = std::string_view(name).substr(at, slash - at);
    if (part.empty() || part == "." || part == "..") return {};
    at = slash + 1;
  }
  return name;
}

// What pg_verifybackup leaves out of its comparison, as pgship does.
bool ignored(std::string_view name) {
  return name == "backup_manifest" || name == "postgresql.auto.conf" || name == "recovery.signal" ||
         name == "standby.signal" || name == "pg_wal" || name.starts_with("pg_wal/");
}

// An Encoded-Path (a name that is not UTF-8, in hex); empty when it is not hex.
std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
    if (ec != std::errc() || end != hex.data() + i + 2) return {};
    out.push_back(static_cast<char>(value));
  }
  return out;
}

}  // namespace

basebackup_writer::basebackup_writer(stdfs::path dir) : dir_(std::move(dir)), reader_(*this) {}

basebackup_writer::~basebackup_writer() {
  close_file();
}

void basebackup_writer::close_file() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::error_code basebackup_writer::refuse(std::string why) {
  problem_ = std::move(why);
  return make_error_code(std::errc::bad_message);
}

std::error_code basebackup_writer::write(std::span<const char> bytes) {
  if (!problem_.empty()) return make_error_code(std::errc::bad_message);
  const auto ec = reader_.write(bytes);
  if (ec && problem_.empty())
    problem_ = reader_.problem().empty() ? ec.message() : reader_.problem();
  return ec;
}

std::error_code basebackup_writer::begin(const tar_member& member) {
  const auto name = safe_name(member.name);
  if (name.empty()) return refuse("the base backup holds a member named '" + member.name + "'");
  // Nothing is written through a link the tar made: it could lead out of the directory.
  for (auto slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
    if (links_.contains(name.substr(0, slash))) {
      return refuse("the base backup holds '" + member.name + "' under the link '" +
                    name.substr(0, slash) + "'");
    }
  }
  const auto path = dir_ / name;
  std::error_code ec;
  stdfs::create_directories(path.parent_path(), ec);
  if (ec) return refuse("creating " + path.parent_path().string() + ": " + ec.message());
  switch (member.type) {
    case '5':
      if (::mkdir(path.c_str(), member.mode | 0700) != 0 && errno != EEXIST)
        return refuse("creating " + path.string() + ": " + std::strerror(errno));
      return {};
    case '2':
      // A base backup's only links are its tablespaces' (pg_tblspc/<oid>).
      if (!name.starts_with("pg_tblspc/") || name.find('/', 10) != std::string::npos) {
        return refuse("the base backup holds a link '" + member.name + "' outside pg_tblspc/");
      }
      if (::symlink(member.link.c_str(), path.c_str()) != 0)
        return refuse("linking " + path.string() + ": " + std::strerror(errno));
      links_.insert(name);
      return {};
    case '0':
      break;
    default:
      return refuse("the base backup holds '" + member.name + "' of tar type '" +
                    std::string(1, member.type) + "', which a base backup does not have");
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, member.mode & 0777);
  if (fd_ < 0) return refuse("creating " + path.string() + ": " + std::strerror(errno));
  name_ = name;
  size_ = 0;
  started_writeback_ = 0;
  hash_ = sha256();
  manifest_member_ = name == "backup_manifest";
  if (manifest_member_) manifest_.clear();
  return {};
}

std::error_code basebackup_writer::data(std::span<const char> bytes) {
  if (fd_ < 0) return {};  // a directory's or a link's bytes (there are none)
  if (manifest_member_) manifest_.append(bytes.data(), bytes.size());
  // In pieces small enough to stay in the cache between the hash and the write (writes of a
  // MiB at once cost this machine four times what 128 KiB writes do).
  while (!bytes.empty()) {
    auto piece = bytes.first(std::min<std::size_t>(bytes.size(), write_piece));
    hash_.update(piece.data(), piece.size());
    size_ += piece.size();
    bytes = bytes.subspan(piece.size());
    while (!piece.empty()) {
      const auto n = ::write(fd_, piece.data(), piece.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        return refuse("writing " + (dir_ / name_).string() + ": " + std::strerror(err));
      }
      piece = piece.subspan(static_cast<std::size_t>(n));
    }
  }
  // Writeback starts now, beside the unpacking, rather than all at once when PostgreSQL
  // fsyncs the data directory as it starts.
  if (size_ - started_writeback_ >= writeback_step) {
    ::sync_file_range(fd_, static_cast<off_t>(started_writeback_),
                      static_cast<off_t>(size_ - started_writeback_), SYNC_FILE_RANGE_WRITE);
    started_writeback_ = size_;
  }
  return {};
}

std::error_code basebackup_writer::end() {
  if (fd_ < 0) return {};
  if (size_ > started_writeback_) {
    ::sync_file_range(fd_, static_cast<off_t>(started_writeback_), 0, SYNC_FILE_RANGE_WRITE);
  }
  close_file();
  written_[name_] = written{size_, hash_.finish()};
  return {};
}

stage_error basebackup_writer::finish(bool& external) {
  external = false;
  if (!problem_.empty()) return fail(errc::restore_failed, problem_);
  if (!reader_.complete()) {
    return fail(errc::restore_failed,
                "the base backup's tar ended before its end-of-archive blocks");
  }
  if (manifest_.empty())
    return fail(errc::restore_failed, "the base backup holds no backup_manifest");
  // The manifest's own checksum covers every byte before its "Manifest-Checksum" line.
  const auto checksum_at = manifest_.rfind("\"Manifest-Checksum\"");
  boost::system::error_code jec;
  const auto parsed = json::parse(manifest_, jec);
  if (jec || !parsed.is_object() || checksum_at == std::string::npos) {
    return fail(errc::restore_failed, "the base backup's manifest cannot be read");
  }
  const auto& top = parsed.get_object();
  const auto* said = top.if_contains("Manifest-Checksum");
  sha256 whole;
  whole.update(std::string_view(manifest_).substr(0, checksum_at));
  if (said == nullptr || !said->is_string() || to_hex(whole.finish()) != said->get_string()) {
    return fail(errc::hash_mismatch, "the base backup's manifest does not match its own checksum");
  }
  const auto* files = top.if_contains("Files");
  if (files == nullptr || !files->is_array()) {
    return fail(errc::restore_failed, "the base backup's manifest lists no Files");
  }
  std::vector<std::string> wrong;
  std::unordered_map<std::string, bool> listed;
  for (const auto& v : files->get_array()) {
    if (!v.is_object()) continue;
    const auto& f = v.get_object();
    std::string path;
    if (const auto* p = f.if_contains("Path"); p != nullptr && p->is_string()) {
      path = std::string(p->get_string());
    } else if (const auto* e = f.if_contains("Encoded-Path"); e != nullptr && e->is_string()) {
      path = from_hex(e->get_string());
    }
    listed[path] = true;
    if (ignored(path)) continue;
    const auto found = written_.find(path);
    if (found == written_.end()) {
      wrong.push_back(path + " is in the manifest but not in the backup");
      continue;
    }
    const auto* size = f.if_contains("Size");
    boost::system::error_code size_ec;  // not a whole number of bytes: a mismatch, no throw
    const auto said_size = size != nullptr ? size->to_number<std::uint64_t>(size_ec) : 0;
    if (size == nullptr || size_ec || said_size != found->second.size) {
      wrong.push_back(path + " has " + std::to_string(found->second.size) +
                      " bytes, the manifest says otherwise");
      continue;
    }
    const auto* algorithm = f.if_contains("Checksum-Algorithm");
    const auto* checksum = f.if_contains("Checksum");
    if (algorithm == nullptr || !algorithm->is_string() || algorithm->get_string() != "SHA256" ||
        checksum == nullptr || !checksum->is_string()) {
      external = true;
      continue;
    }
    if (to_hex(found->second.digest) != checksum->get_string()) {
      wrong.push_back(path + " does not match its SHA-256 in the manifest");
    }
  }
  for (const auto& [path, w] : written_) {
    if (!listed.contains(path) && !ignored(path)) {
      wrong.push_back(path + " is in the backup but not in its manifest");
    }
  }
  if (!wrong.empty()) {
    std::sort(wrong.begin(), wrong.end());
    return fail(errc::hash_mismatch,
                "the unpacked base backup differs from its manifest: " + first_few(wrong));
  }
  return {};
}

}  // namespace pgship::agent
