#include "repository/upload_marks.hpp"
#include <chrono>

#include <pgship/common/time_text.hpp>

namespace pgship::agent {
namespace {

void record_attempt(upload_record& up, const upload_attempt& attempt) {
  up.receiver = attempt.receiver;
  up.bytes_sent = attempt.bytes_sent;
  up.retries = attempt.retries;
  up.resumes = attempt.resumes;
}

}  // namespace

std::error_code mark_shipped(const std::filesystem::path& dir, manifest& m,
                             const upload_attempt& attempt) {
  record_attempt(m.upload, attempt);
  m.upload.state = upload_state::uploaded;
  m.upload.finished = format_utc(std::chrono::system_clock::now());
  m.upload.error.clear();
  m.upload.resume_at.clear();
  return write_manifest(dir, m);
}

std::error_code mark_failed(const std::filesystem::path& dir, manifest& m, std::string_view error,
                            const upload_attempt* attempt) {
  if (attempt != nullptr) {
    record_attempt(m.upload, *attempt);
    m.upload.resume_at = attempt->resume_at;
  }
  m.upload.state = upload_state::failed;
  m.upload.error = error;
  return write_manifest(dir, m);
}

}  // namespace pgship::agent
