#pragma once
// A base backup from the server to the receiver, never staged on local disk: the BASE_BACKUP
// replication command on the agent's io_context (pg_async), its COPY made into one tar
// (basebackup_copy_stream, backup_manifest as its last member) → the tar tap (backup_label,
// backup_manifest) → [zstd] → [age] → hash (stored) → the tus upload fed from memory
// (net/tus_stream). The socket is read only as fast as the upload goes: a slow receiver slows
// the server's walsender down, not memory. The upload commits only after the COPY ended
// without error and the tar ended whole with its manifest; any failure abandons it (nothing
// is committed on the receiver). No child process: pg_basebackup would add a process and a
// pipe copy of every byte to a backup that is CPU-bound on small hosts.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/log.hpp>

#include "child_process.hpp"
#include "net/http_client.hpp"
#include "net/tus_stream.hpp"
#include "net/upload_job.hpp"
#include "pipeline/basebackup_tar_tap.hpp"
#include "pipeline/output_file.hpp"
#include "settings.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct basebackup_stream_request {
  std::string label;  // backup_label's LABEL
  std::string host;
  int port = 5432;
  replication_login login;
  io::stored_format format;
  io::codec_settings codec;
  tus_stream_request upload;
  std::shared_ptr<child_handle> handle;  // its kill() stops the backup
  upload_watch watch;
  std::function<void(std::uint64_t)> on_bytes;  // plain bytes so far (live progress)
  log::context log;
};

struct basebackup_stream_output : stored_sums {
  base_backup_positions positions;
  std::uint64_t bytes_sent = 0;
  int retries = 0;
  int resumes = 0;
  std::size_t peak_held = 0;  // the upload's largest buffer use
};

/// Streams one base backup into the committed upload `request.upload.name`. Fails with
/// database_* (the replication connection), dump_failed (BASE_BACKUP failed, with the
/// server's ERROR line, or its stream is not what PostgreSQL sends), upload_* / receiver_*
/// (the upload), cancelled.
boost::asio::awaitable<stage_error> stream_basebackup(http_client& client,
                                                      const basebackup_stream_request& request,
                                                      basebackup_stream_output& out);

}  // namespace pgship::agent
