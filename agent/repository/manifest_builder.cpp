#include "repository/manifest_builder.hpp"

#include <pgship/common/time_text.hpp>

namespace pgship::agent {

manifest new_manifest(const manifest_start& start) {
  manifest m;
  m.name = start.name;
  m.database = start.database;
  m.kind = start.kind;
  m.run_id = start.run_id;
  m.agent_host = start.agent_host;
  m.started = format_utc(start.started);
  m.compression = start.compression;
  m.compress_level = start.compress_level;
  m.pg_dump_version = start.pg_dump_version;
  m.server_version = start.server_version;
  m.database_size = start.database_size;
  m.adopted = start.adopted;
  m.upload.state = start.receiver ? upload_state::pending : upload_state::skipped;
  if (start.receiver) m.upload.receiver = *start.receiver;
  return m;
}

void record_stored(manifest& m, const stored_bytes& bytes,
                   std::chrono::system_clock::time_point finished) {
  m.size = bytes.size;
  m.sha256 = bytes.sha256;
  if (!bytes.plaintext_sha256.empty()) {
    m.plaintext_sha256 = bytes.plaintext_sha256;
    m.plaintext_size = bytes.plaintext_size;
  }
  m.encryption_recipients = bytes.recipients;
  m.finished = format_utc(finished);
}

}  // namespace pgship::agent
