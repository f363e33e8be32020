#pragma once
// What a backup knows before its producer (pg_dump, tar) starts: the database's server
// version, size and matching tools, a name no earlier backup has, and how its bytes are
// stored (compression, encryption) as the settings say.

#include <map>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>
#include <pgship/common/sha256.hpp>

#include "net/upload_job.hpp"
#include "pg_tools.hpp"
#include "pipeline/output_file.hpp"
#include "repository/manifest.hpp"
#include "repository/manifest_builder.hpp"
#include "repository/rotation.hpp"
#include "settings.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// How the settings store a backup's bytes: COMPRESSION=zstd, ENCRYPT_RECIPIENTS.
io::stored_format stored_format_of(const settings& cfg);
/// The codecs' levels and keys as the settings give them.
io::codec_settings codec_settings_of(const settings& cfg);
/// What the manifest records of bytes stored in `format`: the plaintext's size and digest too
/// when the format changed them, the recipients (age1…) when it is encrypted.
stored_bytes stored_bytes_of(const io::stored_format& format, const io::codec_settings& codec,
                             const stored_sums& sums);

struct preflight_output {
  pg_toolset tools;
  std::string server_version;
  std::uint64_t database_size = 0;
};

/// Connects to `database`, reads its version and size, and picks pg_dump/pg_restore for it
/// (cached per major version in `tools_by_major`).
boost::asio::awaitable<stage_error> preflight(const settings& cfg, const std::string& database,
                                              std::map<int, pg_toolset>& tools_by_major,
                                              preflight_output& out);

/// The upload of `m` from `file` as the settings say (token, chunk size, retries).
upload_request upload_request_for(const settings& cfg, const manifest& m,
                                  const std::filesystem::path& file, const log::context& lg);

/// KEEP_LOCAL_BACKUPS and the GFS keys, and whether a backup must be uploaded to go.
rotation_rule local_rotation_rule(const settings& cfg);

/// A name no earlier backup of this database has (two runs within one second would clash).
boost::asio::awaitable<std::string> fresh_name(const settings& cfg, const std::string& database,
                                               std::string extension);

}  // namespace pgship::agent
