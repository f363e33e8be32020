#pragma once
// Stage 2: prove the file on disk is the archive pg_dump wrote, before it is kept or shipped:
// its SHA-256 read back from disk must match the one computed while dumping, and pg_restore
// must be able to read its table of contents. A compressed file is read through its format's
// read stages on the way (one read): the archive inside must hash as pg_dump's output did, and
// pg_restore --list reads it from its stdin.

#include <cstdint>
#include <filesystem>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/io/stored_format.hpp>
#include <pgship/common/sha256.hpp>

#include "child_process.hpp"
#include "pg_tools.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct verify_output {
  std::uint64_t bytes_read = 0;
  std::uint64_t toc_entries = 0;  // lines of `pg_restore --list` that name an object
};

/// A stdout sink for `pg_restore --list` that counts the lines naming an object into
/// `entries` (the listing can be long: it is counted, not kept).
stdout_sink count_toc_entries(std::uint64_t& entries);

struct verify_expect {
  io::stored_format format;  // not encrypted: the agent holds no identity to read it
  sha256_digest stored;      // of the file's bytes
  sha256_digest plain;       // of the archive inside, when the format is not as produced
};

/// verify_failed when the bytes differ, restore_list_failed when pg_restore rejects it.
boost::asio::awaitable<stage_error> run_verify(const std::filesystem::path& file,
                                               const verify_expect& expected,
                                               const pg_tool& pg_restore, verify_output& out);

}  // namespace pgship::agent
