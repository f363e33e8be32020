#pragma once
// A base backup brought back from the receiver into a directory: its download streamed into
// `tar -x` the way a restore streams into pg_restore (pipeline/fetch_restore).

#include <filesystem>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "pipeline/fetch_restore.hpp"

namespace pgship::agent {

/// Downloads `backup` into `tar -x -C dir`: decrypted and decompressed on the way, the last
/// piece held back until the sha256 matched. Appends the "download" and "unpack" stages.
/// `dir` is what the caller removes on failure.
boost::asio::awaitable<stage_error> fetch_and_untar(fetch_restore_io io,
                                                    const remote_backup& backup,
                                                    const std::filesystem::path& dir,
                                                    std::vector<stage_record>& stages);

}  // namespace pgship::agent
