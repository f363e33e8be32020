#pragma once
// The receiver's physical-archive routes (common/wire/wal.hpp) as the agent calls them: a
// sealed unit up, the archive's state down, and for recovery a segment's list of units and
// the units themselves.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/sha256.hpp>
#include <pgship/common/wire/wal.hpp>

#include "net/http_client.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// One unit's PUT as the wire carries it (the wal room's sealed_unit, seen from below).
struct wal_unit_put {
  std::string file_name;  // the unit's stored name (wal_names.hpp)
  std::string_view stored;
  std::string stored_sha256;
  std::string plaintext_sha256;
  std::uint64_t plaintext_size = 0;
  std::uint64_t segment_size = 0;
  std::vector<wire::wal::time_sample> time_map;
  std::optional<wire::wal::switch_point> timeline_switch;  // a history file's
};

class wal_api {
 public:
  /// `client` is the agent's connection to BACKUP_API_URL (its own: units go one after the
  /// other on it), `token` its BACKUP_API_TOKEN, `system` the cluster's system identifier.
  wal_api(std::unique_ptr<http_client> client, std::string token, std::string system);
  ~wal_api();

  const std::string& system() const { return system_; }

  struct put_outcome {
    /// ok on 201 (stored) or 200 (the same identity was already stored); receiver_unreachable
    /// on transport failures; otherwise the receiver's answer: receiver_auth_failed (401/403),
    /// wal_conflict (409), upload_rejected (another 4xx), receiver_unhealthy (5xx, 507, 429).
    stage_error error;
    /// Retrying cannot help (409, 4xx other than 408/429).
    bool permanent = false;
    /// What the receiver's Retry-After said.
    std::optional<std::chrono::seconds> retry_after;
  };
  /// PUT units/{name} with the unit's headers (wire::wal::header, X-Content-SHA256).
  boost::asio::awaitable<put_outcome> put_unit(const wal_unit_put& unit);
  /// GET /api/wal/{system}: the archive's state; an empty state (no timelines) on 404.
  boost::asio::awaitable<stage_error> get_state(wire::wal::archive_state& out);
  /// POST /api/wal/{system}/gaps: records `gap` (201, or 200 when it was recorded before).
  boost::asio::awaitable<stage_error> post_gap(const wire::wal::gap_record& gap);
  /// PUT /api/wal/{system}/basebackups/{id}: the base backup's completion mark (201, or 200
  /// for the same mark again). `permanent` when the receiver refused it (409).
  boost::asio::awaitable<put_outcome> put_mark(const wire::wal::basebackup_mark& mark);

  /// GET bundles/{file}: the head and stored bytes of the units that make up a segment or a
  /// history file (wire/wal.hpp), the whole body into `sink`; `absent` when the archive has no
  /// such file (404). wal_gap (409: it lies in a hole), receiver_auth_failed,
  /// receiver_unhealthy or receiver_unreachable otherwise. A 429 or 503 is waited out (its
  /// Retry-After, else a growing pause) for up to a minute.
  boost::asio::awaitable<stage_error> get_bundle(std::string_view file, body_sink sink,
                                                 bool& absent);

 private:
  std::unique_ptr<http_client> client_;
  std::string token_;
  std::string system_;
};

/// The PUT put_unit sends for `unit` (path, token, X-Content-SHA256, the X-Wal-* headers, the
/// stored bytes as its body).
http_request wal_unit_request(const receiver_endpoint& endpoint, const std::string& token,
                              std::string_view system, const wal_unit_put& unit);
/// What the receiver's answer to a unit PUT (or its transport failure) means for the queue.
wal_api::put_outcome judge_unit_reply(const http_outcome& reply, std::string_view file_name);
/// What the answer to POST gaps says: ok on 200/201.
stage_error judge_gap_reply(const http_outcome& reply, std::string_view system);
/// What the answer to a completion mark says: ok on 200/201; basebackup_incomplete (permanent)
/// on 409 (the receiver does not hold the backup or its WAL), else what put_unit says.
wal_api::put_outcome judge_mark_reply(const http_outcome& reply, std::string_view backup_id);
/// What the answer to GET /api/wal/{system} says: the state, empty on 404.
/// What an answer to a recovery read (a list, a unit) means; 2xx is ok. `what` names it.
stage_error judge_read_reply(const http_outcome& reply, const std::string& what);
stage_error judge_state_reply(const http_outcome& reply, std::string_view system,
                              wire::wal::archive_state& out);

}  // namespace pgship::agent
