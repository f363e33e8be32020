#pragma once
// The receiver's read-side API as the agent uses it: health, the list of stored backups, and
// a download streamed to a sink; and a backup's manifest, up and down. Backup uploads live in
// pipeline/upload (tus).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/whoami.hpp>

#include "net/http_client.hpp"
#include "settings.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct remote_backup {
  std::string id;
  std::string database;
  std::uint64_t size = 0;
  std::string sha256;
  std::string taken;     // UTC text
  std::string uploaded;  // UTC text
  /// From the id, as both programs read it (a receiver from before kinds lists no `kind`).
  backup_kind kind = backup_kind::dump;
};

/// A client for BACKUP_API_URL with the TLS files of `cfg`.
std::unique_ptr<http_client> make_receiver_client(
    boost::asio::any_io_executor ex, const settings& cfg,
    std::chrono::seconds timeout = std::chrono::seconds(60));

/// GET /health must answer 200 {"status":"ok"}: receiver_unreachable or receiver_unhealthy.
boost::asio::awaitable<stage_error> check_receiver_health(http_client& client);

/// GET /api/backup/whoami with `token`: what the token is and whether this client can upload
/// now. receiver_unreachable, receiver_auth_failed (401/403), or receiver_unhealthy (another
/// answer). A receiver older than the route (404) is asked GET /health instead, and `out` then
/// says only whether that was ok.
boost::asio::awaitable<stage_error> ask_whoami(http_client& client, const std::string& token,
                                               wire::whoami_reply& out);

/// Whether this client may upload now: ask_whoami's errors, receiver_auth_failed when the
/// token lacks the upload scope, receiver_unhealthy with the receiver's reason when it cannot
/// take this client's uploads (storage, free space, quota). Another client's trouble, or a
/// scrub finding, is not this client's.
boost::asio::awaitable<stage_error> check_receiver_takes_uploads(http_client& client,
                                                                 const std::string& token);

/// GET /api/backup/list[?database=], newest first. A receiver that knows kinds leaves the
/// globals out of `?database=globals`; callers still check each record's kind.
boost::asio::awaitable<stage_error> list_remote_backups(http_client& client,
                                                        const std::string& token,
                                                        const std::string& database,
                                                        std::vector<remote_backup>& out,
                                                        std::string* raw_json = nullptr);

/// POST /api/backup/upload of the manifest of the stored backup `backup_id`, raw, as
/// `stored_name` (`<backup_id>.manifest.json`, or `.manifest.json.age` when `bytes` are
/// encrypted) with its X-Content-SHA256. 200 and 201 are success; a passing refusal (429, 5xx)
/// is receiver_unhealthy, a lasting one upload_rejected (404: the receiver has no such backup;
/// 403 conflict: an APPEND_ONLY receiver keeps another manifest), receiver_auth_failed or
/// hash_mismatch.
boost::asio::awaitable<stage_error> upload_manifest(http_client& client, const std::string& token,
                                                    const std::string& backup_id,
                                                    const std::string& stored_name,
                                                    const std::string& bytes);

/// GET /api/backup/download/{backup_id}.manifest. `stored_name` (X-Manifest-Name) says whether
/// `bytes` are encrypted (`.manifest.json.age`). A 404 (no such backup, or one uploaded without
/// its manifest) is no error: `stored_name` and `bytes` are left empty, for the caller to fall
/// back on what it has.
boost::asio::awaitable<stage_error> download_manifest(http_client& client, const std::string& token,
                                                      const std::string& backup_id,
                                                      std::string& bytes, std::string& stored_name);

/// Parses the list body; nullopt when it is not the receiver's JSON array of records.
std::optional<std::vector<remote_backup>> parse_backup_list(std::string_view json);

}  // namespace pgship::agent
