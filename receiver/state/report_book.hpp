#pragma once
// What agents reported (drill results, their schedule) and what scrubs found, per client and
// database, for GET /api/status. Kept in STORAGE_DIR/.reports/<client>.json, the newest 100
// drills and findings per database; the receiver's local directory whatever the backend (with
// S3, each replica keeps what it was told). Thread-safe.

#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>

#include <pgship/common/wire/report.hpp>

namespace pgship::receiver {

struct scrub_finding {
  std::string backup;
  std::string problem;
  std::string found;  // UTC, RFC 3339
};

struct client_reports {
  std::optional<wire::schedule_report> schedule;
  std::map<std::string, std::deque<wire::drill_report>> drills;  // newest last
  std::map<std::string, std::deque<scrub_finding>> findings;     // newest last
};

class report_book {
 public:
  static constexpr std::size_t kept = 100;
  /// Databases a client's drill reports may name: a token cannot grow the book without end.
  static constexpr std::size_t databases_max = 1000;

  /// Reads what `dir` holds (a file that does not parse is logged and left aside).
  explicit report_book(std::filesystem::path dir);

  /// Keeps `r` for `client`, written through to its file (blocks: call it on a storage thread).
  /// too_many_files_open for a drill of a database past databases_max.
  std::error_code add(const std::string& client, const wire::report& r);
  std::error_code note_finding(const std::string& client, const std::string& database,
                               scrub_finding finding);
  client_reports of(const std::string& client) const;

 private:
  std::error_code save(const std::string& client) const;  // mutex_ held

  std::filesystem::path dir_;
  mutable std::mutex mutex_;
  std::map<std::string, client_reports> clients_;
};

}  // namespace pgship::receiver
