#include "pipeline/basebackup_copy_stream.hpp"
#include <algorithm>
#include <cstring>

#include <unistd.h>

namespace pgship::agent {

namespace {

// A libpq-style quoted literal: the label is ours, but quoting it keeps that a non-issue.
std::string quoted(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// `width` - 1 octal digits, zero-padded, then a NUL (ustar's numeric fields).
void put_octal(char* field, std::size_t width, std::uint64_t value) {
  field[width - 1] = '\0';
  for (std::size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
}

std::error_code protocol_error() {
  return std::make_error_code(std::errc::protocol_error);
}

}  // namespace

std::string base_backup_command(std::string_view label) {
  return "BASE_BACKUP (LABEL " + quoted(label) +
         ", CHECKPOINT 'fast', WAIT false, MANIFEST 'yes', MANIFEST_CHECKSUMS 'SHA256')";
}

std::string tar_file_header(std::string_view name, std::uint64_t size, std::time_t mtime) {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), std::min<std::size_t>(name.size(), 99));
  put_octal(h.data() + 100, 8, 0600);
  put_octal(h.data() + 108, 8, ::geteuid());
  put_octal(h.data() + 116, 8, ::getegid());
  put_octal(h.data() + 124, 12, size);
  put_octal(h.data() + 136, 12, static_cast<std::uint64_t>(mtime));
  h[156] = '0';
  std::memcpy(h.data() + 257, "ustar", 6);
  std::memcpy(h.data() + 263, "00", 2);
  // The checksum is computed with its own field as spaces.
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (const char c : h)
    sum += static_cast<unsigned char>(c);
  put_octal(h.data() + 148, 7, sum);
  h[155] = ' ';
  return h;
}

std::error_code basebackup_copy_stream::refuse(std::string why) {
  problem_ = std::move(why);
  return protocol_error();
}

std::error_code basebackup_copy_stream::archive_data(std::span<const char> data) {
  // Everything but the last `trailer` bytes seen so far goes on.
  if (held_.size() + data.size() <= trailer) {
    held_.append(data.data(), data.size());
    return {};
  }
  const std::size_t total = held_.size() + data.size();
  const std::size_t pass = total - trailer;
  if (pass >= held_.size()) {
    if (!held_.empty()) {
      if (auto ec = out_.write(held_)) return ec;
    }
    const std::size_t from_data = pass - held_.size();
    if (auto ec = out_.write(data.first(from_data))) return ec;
    held_.assign(data.data() + from_data, data.size() - from_data);
  } else {
    if (auto ec = out_.write(std::span<const char>(held_.data(), pass))) return ec;
    held_.erase(0, pass);
    held_.append(data.data(), data.size());
  }
  return {};
}

std::error_code basebackup_copy_stream::take(std::span<const char> message) {
  if (message.empty()) return refuse("the base backup's stream sent an empty message");
  const auto body = message.subspan(1);
  switch (message[0]) {
    case 'n': {
      if (part_ != part::none) {
        // A second archive is a second tablespace; only one tar can be shipped.
        return refuse(
            "the server sent a second archive: the cluster has tablespaces besides pg_default");
      }
      const auto end = std::find(body.begin(), body.end(), '\0');
      archive_.assign(body.begin(), end);
      part_ = part::archive;
      return {};
    }
    case 'd':
      if (part_ == part::archive) return archive_data(body);
      if (part_ == part::manifest) {
        if (manifest_.size() + body.size() > manifest_limit)
          return refuse("the backup manifest is larger than 1 GiB");
        manifest_.append(body.data(), body.size());
        return {};
      }
      return refuse("the base backup's stream sent data before its archive");
    case 'm':
      if (part_ != part::archive) return refuse("the backup manifest came before the archive");
      part_ = part::manifest;
      had_manifest_ = true;
      return {};
    case 'p':
      return {};
    default:
      return refuse(std::string("the base backup's stream sent a message of unknown type '") +
                    message[0] + "'");
  }
}

std::error_code basebackup_copy_stream::finish() {
  if (part_ == part::none) return refuse("the server sent no archive");
  const bool terminated = held_.size() == trailer &&
                          std::all_of(held_.begin(), held_.end(), [](char c) { return c == '\0'; });
  if (!terminated) return refuse("the server's archive did not end with end-of-archive blocks");
  if (!had_manifest_) return refuse("the server sent no backup manifest");
  if (auto ec =
          out_.write(tar_file_header("backup_manifest", manifest_.size(), std::time(nullptr))))
    return ec;
  if (auto ec = out_.write(manifest_)) return ec;
  const std::size_t padding = (512 - manifest_.size() % 512) % 512;
  manifest_.assign(padding + trailer, '\0');
  if (auto ec = out_.write(manifest_)) return ec;
  manifest_.clear();
  manifest_.shrink_to_fit();
  return {};
}

}  // namespace pgship::agent
