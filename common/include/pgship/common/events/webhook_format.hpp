#pragma once
// How an event goes over the wire to each kind of webhook receiver (WEBHOOK_FORMAT): our JSON,
// a Slack incoming-webhook text, an ntfy message (plain body, Title/Priority/Tags headers) or
// an Alertmanager alert (POSTed to its /api/v2/alerts; a failure fires an alert whose endsAt
// lies a week ahead, so it keeps firing until the success that resolves it). Signed with
// WEBHOOK_SECRET when set: X-Pgship-Signature: sha256=<HMAC-SHA256 of the body, hex>.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pgship/common/events/event.hpp>

namespace pgship::events {

enum class webhook_format { json, slack, ntfy, alertmanager };

std::optional<webhook_format> parse_webhook_format(std::string_view text);

struct webhook_request {
  std::string path_suffix;  // appended to WEBHOOK_URL's path (alertmanager: /api/v2/alerts)
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// How long a firing alert lasts without news: a daily schedule's next run, with margin.
inline constexpr std::chrono::hours alert_lifetime{24 * 7};

webhook_request render(const event& e, webhook_format format, std::string_view secret);

/// "sha256=<hex>" of `body` under `secret`.
std::string signature(std::string_view secret, std::string_view body);

/// The event whose alert `name` resolves (backup.succeeded resolves backup.failed), or "".
std::string_view resolves(std::string_view name);

/// Whether a sender configured for `patterns` sends `name`: listed, or (to Alertmanager) the
/// success that resolves a listed failure.
bool wanted(std::span<const std::string> patterns, webhook_format format, std::string_view name);

/// One line for people: "backup failed on db-1: app: dump_failed: ERROR: ...".
std::string summary(const event& e);

}  // namespace pgship::events
