#pragma once
// The stored end of the dump and archive stages: [zstd] → [age] → hash of the stored bytes →
// the file in .partial/, created exclusively, fsynced when the chain finishes, removed on
// failure. Compression comes before encryption (ciphertext does not compress), the hash after
// it: the sidecar and the receiver check what is stored.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <pgship/common/age/age_keys.hpp>
#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/io/file_io.hpp>
#include <pgship/common/io/filters.hpp>
#include <pgship/common/io/zstd_filters.hpp>

#include "child_process.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// disk_full for ENOSPC, local_io_failed otherwise: "<what>: <reason>".
stage_error io_failure(const std::string& what, const std::error_code& ec);

/// How the child writing into an output_file ended: cancelled, a failed write (disk_full /
/// local_io_failed), dump_failed naming `what` ("pg_dump", "tar of /etc") with its stderr's
/// last line; empty when it exited 0.
stage_error producer_failure(const child_result& result, const std::string& what,
                             const std::filesystem::path& output);

/// How a backup's bytes are stored.
struct stored_format {
  bool zstd = false;  // compressed in-process with libzstd
  int zstd_level = 3;
  int zstd_threads = 0;
  std::vector<age::recipient> recipients;  // set: an age file to each of them

  bool encrypted() const { return !recipients.empty(); }
  /// `base` (".dump", ".tar") with ".zst" and ".age" as they apply.
  std::string extension(std::string_view base) const {
    return std::string(base) + (zstd ? ".zst" : "") + (encrypted() ? ".age" : "");
  }
};

class output_file {
 public:
  /// Creates `path` (it must not exist); `error` says why not.
  output_file(std::filesystem::path path, const stored_format& format, stage_error& error);
  ~output_file();
  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;

  /// Where the bytes to store go: the first of compressor, encryptor and stored hash.
  io::sink& input() {
    if (zstd_) return *zstd_;
    if (age_) return *age_;
    return stored_;
  }
  const io::hash_filter& stored() const { return stored_; }
  /// Closes the file; when `error` is set the file is removed. Returns `error`.
  stage_error close(stage_error error);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  io::file_writer file_;
  io::hash_filter stored_;
  std::optional<io::age_encryptor> age_;
  std::optional<io::zstd_compressor> zstd_;
};

}  // namespace pgship::agent
