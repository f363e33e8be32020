#include <pgship/common/events/webhook_settings.hpp>

namespace pgship::events {

webhook_settings read_webhook_settings(const config::config& cfg) {
  webhook_settings s;
  s.url = cfg.string("WEBHOOK_URL");
  if (!s.url.empty() && !(s.url.starts_with("http://") && s.url.size() > 7) &&
      !(s.url.starts_with("https://") && s.url.size() > 8)) {
    throw config::config_error(
        "WEBHOOK_URL is not an http:// or https:// URL (its value is a secret and is not shown)");
  }
  s.events = cfg.list("WEBHOOK_EVENTS");
  if (const auto bad = unknown_patterns(s.events); !bad.empty()) {
    std::string known;
    for (const auto n : known_event_names())
      known += (known.empty() ? "" : ", ") + std::string(n);
    throw config::config_error("WEBHOOK_EVENTS names no event as \"" + bad.front() +
                               "\"; events are " + known + " (or *, <kind>.*, *.<outcome>)");
  }
  s.format = *parse_webhook_format(
      cfg.choice("WEBHOOK_FORMAT", {"json", "slack", "ntfy", "alertmanager"}));
  s.secret = cfg.string("WEBHOOK_SECRET");
  return s;
}

std::vector<config::key_spec> webhook_keys(std::string_view default_events) {
  return {
      {"WEBHOOK_URL", "", true,
       "POST an event (schema pgship.event.v1) here for each of WEBHOOK_EVENTS; a secret"},
      {"WEBHOOK_EVENTS", default_events, false,
       "events to send: names, *, <kind>.* or *.<outcome>, comma-separated"},
      {"WEBHOOK_FORMAT", "json", false, "json, slack, ntfy or alertmanager"},
      {"WEBHOOK_SECRET", "", true, "HMAC-SHA256 key: X-Pgship-Signature: sha256=<hex> of the body"},
  };
}

}  // namespace pgship::events
