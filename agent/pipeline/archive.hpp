#pragma once
// ARCHIVE_DIRS: a directory shipped beside the databases, as `<name>-<stamp>.tar[.zst][.age]`.
// GNU tar, run as a child like pg_dump, streams the tree through the same chain (the format's
// codecs, the hash, the file writer). Verification lists the archive again with tar, reading
// the stored file back through the format's read stages; an encrypted archive, which the agent
// cannot read back, is listed from a tee while it is written.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>
#include <pgship/common/sha256.hpp>

#include "child_process.hpp"
#include "pipeline/output_file.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct archive_request {
  std::filesystem::path directory;  // what is archived (its contents, relative to it)
  std::filesystem::path output;     // created; must not exist
  io::stored_format format;         // [zstd] [age]
  io::codec_settings codec;
  std::shared_ptr<child_handle> handle;
  log::context log;
};

/// The sums' plain bytes are the tar stream itself.
struct archive_output : stored_sums {
  std::uint64_t entries = 0;  // what `tar --list` names
  /// Encrypted archives: `tar --list` of the tee read it all (else `list_problem` says why).
  bool listed = false;
  std::string list_problem;
};

/// Writes the archive (fsynced). On failure the file is removed: dump_failed (tar failed),
/// local_io_failed / disk_full, cancelled.
boost::asio::awaitable<stage_error> run_archive(const archive_request& request,
                                                archive_output& out);

/// `tar --list` of the stored file (read through the format's read stages), which must hash
/// as written: verify_failed otherwise. Not for an encrypted format (no identity to read it).
boost::asio::awaitable<stage_error> verify_archive(const std::filesystem::path& file,
                                                   const io::stored_format& format,
                                                   const sha256_digest& stored,
                                                   archive_output& out);

}  // namespace pgship::agent
