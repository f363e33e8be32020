#pragma once
// ARCHIVE_DIRS: a directory shipped beside the databases, as `<name>-<stamp>.tar[.zst]`. GNU
// tar, run as a child like pg_dump, streams the tree through the same chain (zstd when
// COMPRESSION=zstd, the hash, the file writer); verification lists the archive again with
// tar, reading the stored file back through the decompressor.

#include <cstdint>
#include <filesystem>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>
#include <pgship/common/sha256.hpp>

#include "child_process.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct archive_request {
  std::filesystem::path directory;  // what is archived (its contents, relative to it)
  std::filesystem::path output;     // created; must not exist
  bool zstd = false;
  int zstd_level = 3;
  int zstd_threads = 0;
  std::shared_ptr<child_handle> handle;
  log::context log;
};

struct archive_output {
  std::uint64_t bytes = 0;  // stored
  sha256_digest digest{};
  std::uint64_t plain_bytes = 0;  // the tar stream itself
  sha256_digest plain_digest{};
  std::uint64_t entries = 0;  // what `tar --list` names
};

/// Writes the archive (fsynced). On failure the file is removed: dump_failed (tar failed),
/// local_io_failed / disk_full, cancelled.
boost::asio::awaitable<stage_error> run_archive(const archive_request& request,
                                                archive_output& out);

/// `tar --list` of the stored file (decompressed when zstd), which must hash as written:
/// verify_failed otherwise.
boost::asio::awaitable<stage_error> verify_archive(const std::filesystem::path& file, bool zstd,
                                                   const sha256_digest& stored,
                                                   archive_output& out);

}  // namespace pgship::agent
