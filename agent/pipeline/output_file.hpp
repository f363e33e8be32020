#pragma once
// The stored end of the dump, archive and globals stages: hash of the plain bytes → the
// format's write stages (io/codec_chain.hpp: [zstd] → [age]) → hash of the stored bytes → the
// file in .partial/, created exclusively, fsynced when the chain finishes, removed on failure.
// The hash of the stored bytes is the one the sidecar lists and the receiver checks.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/filter_group.hpp>
#include <pgship/common/io/filters.hpp>
#include <pgship/common/sha256.hpp>

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

/// What a backup file's manifest says of its bytes.
struct stored_sums {
  std::uint64_t bytes = 0;  // stored
  sha256_digest digest{};
  std::uint64_t plain_bytes = 0;  // as the producer wrote them (the same when stored so)
  // Absent where something else vouches for the plaintext: a base backup's files are each
  // in PostgreSQL's backup manifest with their SHA-256.
  std::optional<sha256_digest> plain_digest;
};

class output_file {
 public:
  /// Creates `path` (it must not exist); `error` says why not.
  output_file(std::filesystem::path path, const io::stored_format& format,
              const io::codec_settings& codec, stage_error& error);

  /// Where the producer's bytes go. Stages pushed in front of it (a tee, a check) see them
  /// before they are hashed as plain.
  io::filter_group& chain() { return chain_; }
  const io::hash_filter& stored() const { return *stored_; }
  /// Ends the file. Without `error`, the chain finishes (the codecs' last bytes, fdatasync),
  /// and the sums go into `out`; a failure there becomes the error. With one, the stream is
  /// abandoned and the file removed. Returns the error.
  stage_error close(stage_error error, stored_sums& out);

 private:
  std::filesystem::path path_;
  io::filter_group chain_;
  io::hash_filter* stored_ = nullptr;
  io::hash_filter* plain_ = nullptr;
};

}  // namespace pgship::agent
