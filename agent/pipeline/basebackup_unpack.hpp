#pragma once
// A base backup brought back from the receiver into a directory, its files checked against its
// manifest as they are written, in parallel with the download that decrypts and decompresses.

#include <filesystem>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "pipeline/fetch_restore.hpp"

namespace pgship::agent {

/// Downloads `backup` into `dir`: its sha256 checked, decrypted and decompressed on the
/// executor while a thread of its own writes the files (pipeline/basebackup_writer) and checks
/// each against the backup's manifest, the end held back until the sha256 matched. Appends the
/// "download" and "unpack" stages. `needs_verifybackup` is set when the manifest's checksums are
/// not SHA-256 (pg_verifybackup must check them). `dir` is what the caller removes on failure.
boost::asio::awaitable<stage_error> fetch_and_unpack(fetch_restore_io io,
                                                     const remote_backup& backup,
                                                     const std::filesystem::path& dir,
                                                     std::vector<stage_record>& stages,
                                                     bool& needs_verifybackup);

}  // namespace pgship::agent
