#pragma once
// Stage 1: pg_dump -Fc streamed through an async pipe and the filter chain into
// `.partial/<name>`: the archive's magic checked, hashed, stored in the format's codecs
// (libzstd for COMPRESSION=zstd, age with ENCRYPT_RECIPIENTS; hashed again as stored), written
// and fsynced. Memory stays flat: one 256 KiB buffer and zstd's windows whatever the database
// size.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>
#include <pgship/common/sha256.hpp>

#include "child_process.hpp"
#include "pg_connection.hpp"
#include "pg_tools.hpp"
#include "pipeline/output_file.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct dump_request {
  pg_login login;
  pg_tool pg_dump;
  int compress_level = 6;        // pg_dump -Z; 0 when the agent compresses
  std::filesystem::path output;  // created; must not exist
  std::shared_ptr<child_handle> handle;
  log::context log;                   // run_id and database on every line
  std::uint64_t* progress = nullptr;  // bytes written so far, for live progress
  std::string snapshot;               // pg_dump --snapshot: an exported snapshot, or empty
  /// Called after each piece with the bytes now in the file (an upload following the dump).
  std::function<void(std::uint64_t)> on_stored;
  /// pg_restore to list a tee of the archive while it is written (verify without a re-read).
  std::optional<pg_tool> list_with;
  io::stored_format format;  // [zstd] [age]
  io::codec_settings codec;
};

/// The sums' plain bytes are pg_dump's archive itself.
struct dump_output : stored_sums {
  /// With list_with: pg_restore --list read the tee's table of contents (else `list_problem`
  /// says why; `list_gave_up` when verify must read the file back instead).
  bool listed = false;
  bool list_gave_up = false;
  std::string list_problem;
  std::uint64_t toc_entries = 0;
};

/// Runs pg_dump into `request.output` (fsynced). On any failure the file is removed and the
/// error is dump_failed (exit, signal, stderr's last line), dump_too_small (not an archive),
/// local_io_failed / disk_full (writing) or cancelled.
boost::asio::awaitable<stage_error> run_dump(const dump_request& request, dump_output& out);

}  // namespace pgship::agent
