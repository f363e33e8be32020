#pragma once
// A base backup from pg_basebackup to the receiver, never staged on local disk:
//   pg_basebackup -Ft -D - (a child, its stdout awaited: a slow upload blocks it, not memory)
//   → the tar tap (backup_label, backup_manifest) → [zstd] → [age]
//   → hash (stored) → the tus upload fed from memory (net/tus_stream).
// The upload commits only after pg_basebackup exited 0 and the tar ended whole with its
// manifest; any failure abandons it (nothing is committed on the receiver).

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
#include "pg_tools.hpp"
#include "pipeline/basebackup_tar_tap.hpp"
#include "pipeline/output_file.hpp"
#include "settings.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct basebackup_stream_request {
  pg_tool pg_basebackup;
  std::string host;
  int port = 5432;
  replication_login login;
  io::stored_format format;
  io::codec_settings codec;
  tus_stream_request upload;
  std::shared_ptr<child_handle> handle;
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

/// pg_basebackup's command line (the password is never on it: PGPASSWORD).
std::vector<std::string> pg_basebackup_args(const std::string& host, int port,
                                            const std::string& user);

/// Streams one base backup into the committed upload `request.upload.name`. Fails with
/// dump_failed (pg_basebackup failed, or its tar is incomplete), upload_* / receiver_* (the
/// upload), cancelled.
boost::asio::awaitable<stage_error> stream_basebackup(http_client& client,
                                                      const basebackup_stream_request& request,
                                                      basebackup_stream_output& out);

}  // namespace pgship::agent
