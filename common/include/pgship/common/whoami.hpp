#pragma once
// `GET /api/backup/whoami` (DESIGN.md "Receiver HTTP API"): what a token is and whether its
// client can upload now. The agent asks this, not receiver-wide `/health`, before it uploads: a
// scrub finding or another client's quota never refuses this client's upload. One spelling for
// both programs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgship::wire {

inline constexpr std::string_view whoami_path = "/api/backup/whoami";
/// 200 while the receiver serves and its storage is writable; never degraded by a scrub finding.
inline constexpr std::string_view readyz_path = "/readyz";

struct whoami_reply {
  std::string client;
  std::vector<std::string> scopes;  // of upload, read, delete, admin
  bool can_upload = false;
  std::string reason;  // why not, when !can_upload: one sentence for a log line
  std::optional<std::uint64_t> free_bytes;
  std::optional<std::uint64_t> quota_left_bytes;  // unset: no QUOTA_BYTES

  bool has_scope(std::string_view scope) const;
};

std::string to_json(const whoami_reply& reply);
/// nullopt when `body` is not a whoami object (client, scopes and can_upload are required).
std::optional<whoami_reply> parse_whoami(std::string_view body);

}  // namespace pgship::wire
