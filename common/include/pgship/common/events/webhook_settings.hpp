#pragma once
// WEBHOOK_URL, WEBHOOK_EVENTS, WEBHOOK_FORMAT and WEBHOOK_SECRET, read the same way by both
// programs (each with its own default events).

#include <string>
#include <string_view>
#include <vector>

#include <pgship/common/config.hpp>
#include <pgship/common/events/webhook_format.hpp>

namespace pgship::events {

struct webhook_settings {
  std::string url;  // empty: no webhook
  std::vector<std::string> events;
  webhook_format format = webhook_format::json;
  std::string secret;

  bool enabled() const { return !url.empty(); }
};

/// WEBHOOK_URL, WEBHOOK_EVENTS, WEBHOOK_FORMAT, WEBHOOK_SECRET. Throws config_error for a URL
/// that is not http(s) (named by its key only: it is a secret), an unknown format, or an
/// event pattern that matches no event (a typo).
webhook_settings read_webhook_settings(const config::config& cfg);

/// The WEBHOOK_* keys, for each program's schema; `default_events` differs between them.
std::vector<config::key_spec> webhook_keys(std::string_view default_events);

}  // namespace pgship::events
