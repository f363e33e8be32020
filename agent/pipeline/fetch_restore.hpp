#pragma once
// Brings a backup back from the receiver into a database: the download, its SHA-256 check and
// pg_restore, shared by `restore` and restore drills. With one job the download streams into
// pg_restore's stdin while it restores, so recovery takes about as long as pg_restore alone;
// the last piece is held back until the whole file's SHA-256 matched, so a corrupt or cut
// download kills pg_restore before its single transaction can commit. With more jobs the
// file is downloaded to a spool first, since pg_restore -j needs a seekable file. An `.age`
// backup is decrypted on the way (then `.zst` decompressed): each 64 KiB chunk authenticates
// before pg_restore sees it, and a file that is cut, altered or for another identity fails
// the restore before its transaction commits.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/age/age_keys.hpp>
#include <pgship/common/io/sink.hpp>

#include "child_process.hpp"
#include "net/http_client.hpp"
#include "net/receiver_api.hpp"
#include "pg_connection.hpp"
#include "pipeline/run_control.hpp"
#include "pipeline/run_record.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct restore_target {
  pg_login login;  // the server and the database to restore into
  bool clean = false;
  bool no_owner = false;
  /// 1: streamed, one transaction. Above 1: pg_restore -j over a spooled file; no longer one
  /// transaction (pg_restore cannot combine the two), so a failure leaves what was restored.
  int jobs = 1;
  /// The backup's TimescaleDB version, when it has the extension: restored by TimescaleDB's
  /// procedure (pipeline/timescaledb_restore.hpp) from a spooled file, whose listing leaves
  /// out the extension's own entry.
  std::string timescaledb_version;
  /// Ends with timescaledb_post_restore(). A drill's scratch copy stays in TimescaleDB's
  /// restore mode instead, in which its scheduler starts no job there.
  bool timescaledb_post_restore = true;
};

struct fetch_restore_io {
  http_client& client;
  std::string token;  // BACKUP_API_TOKEN
  std::optional<std::filesystem::path> pg_dump_path;
  std::filesystem::path spool_dir;  // for jobs > 1
  std::shared_ptr<child_handle> child;
  live_progress* progress = nullptr;      // fed with the bytes downloaded, when set
  std::string progress_label;             // the database progress is reported under
  std::vector<age::identity> identities;  // AGE_IDENTITY_FILE, for `.age` backups
};

/// Appends the "download" and "restore" stages to `stages` (with jobs == 1 they overlap:
/// both start together).
boost::asio::awaitable<stage_error> fetch_and_restore(fetch_restore_io io,
                                                      const remote_backup& backup,
                                                      const restore_target& target,
                                                      std::vector<stage_record>& stages);

/// What a download streamed into a child's stdin came to: the download's verdict (its status,
/// its sha256, whether it decrypts and decompresses) and the child's.
struct streamed_outcome {
  stage_error download;
  child_result child;
};

/// The download of `backup` streamed into `spec`'s stdin (pg_restore, tar), decrypted and
/// decompressed on the way; the last piece is held back until the whole file's sha256 matched,
/// so the child never sees the end of a corrupt or cut copy. `download` is closed when the
/// download ends; progress then names `next_stage`.
boost::asio::awaitable<streamed_outcome> stream_to_child(const fetch_restore_io& io,
                                                         const remote_backup& backup,
                                                         const child_spec& spec,
                                                         stage_clock& download,
                                                         const char* next_stage);

/// Takes plaintext from `ready` (what it leaves stays for the next call, but not after the
/// `last` one); may wait (a slow consumer slows the download); an error stops feeding it.
using plaintext_consumer =
    std::function<boost::asio::awaitable<std::error_code>(io::buffer_sink& ready, bool last)>;

/// The download of `backup`, decrypted and decompressed, handed to `consume` piece by piece;
/// the last piece is held back until the whole file's sha256 matched, so the consumer never
/// sees the end of a corrupt or cut copy. Returns the download's verdict (its status, sha256,
/// whether it decrypts and decompresses); the consumer's own error is left in `consumer_ec`.
/// `download` is closed when the download ends; progress then names `next_stage`.
boost::asio::awaitable<stage_error> stream_plaintext(const fetch_restore_io& io,
                                                     const remote_backup& backup,
                                                     stage_clock& download, const char* next_stage,
                                                     plaintext_consumer consume,
                                                     std::error_code& consumer_ec);

/// Downloads a small backup (the globals) whole into `out`, decrypted and decompressed, after
/// its sha256 matched the receiver's record; restore_failed beyond `limit` plaintext bytes.
boost::asio::awaitable<stage_error> fetch_plaintext(fetch_restore_io io,
                                                    const remote_backup& backup, std::string& out,
                                                    std::uint64_t limit);

}  // namespace pgship::agent
