#include <array>

#include <boost/json/array.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <pgship/common/events/webhook_format.hpp>
#include <pgship/common/json_text.hpp>
#include <pgship/common/time_text.hpp>

namespace pgship::events {

namespace json = boost::json;

namespace {

struct resolving_pair {
  std::string_view fires;
  std::string_view resolves;
};
constexpr std::array<resolving_pair, 5> pairs = {{{"backup.failed", "backup.succeeded"},
                                                  {"drill.failed", "drill.succeeded"},
                                                  {"basebackup.failed", "basebackup.succeeded"},
                                                  {"wal.lag", "wal.caught_up"},
                                                  {"storage.low", "storage.ok"}}};

bool is_trouble(std::string_view name) {
  return name.ends_with(".failed") || name == "wal.lag" || name == "wal.gap" ||
         name == "scrub.finding" || name == "storage.low";
}

// "backup.failed" -> "PgshipBackupFailed": the alert a firing event and its resolution share.
std::string alert_name(std::string_view firing) {
  std::string out = "Pgship";
  bool upper = true;
  for (const char c : firing) {
    if (c == '.' || c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string words(std::string_view name) {
  std::string out(name);
  for (auto& c : out)
    if (c == '.' || c == '_') c = ' ';
  return out;
}

json::array alertmanager_body(const event& e) {
  const auto fires = resolves(e.name);
  const bool resolving = !fires.empty();
  json::object labels{{"alertname", alert_name(resolving ? fires : std::string_view(e.name))},
                      {"source", e.source},
                      {"host", e.host}};
  if (!e.client.empty()) labels["client"] = e.client;
  if (!e.database.empty()) labels["database"] = e.database;
  if (e.name == "scrub.finding" && !e.backup.empty()) labels["backup"] = e.backup;
  json::object annotations{{"summary", summary(e)}, {"event_id", e.id}};
  if (!e.run_id.empty()) annotations["run_id"] = e.run_id;
  if (!e.message.empty()) annotations["description"] = e.message;
  const auto ends = resolving ? e.time : e.time + alert_lifetime;
  json::object alert{{"labels", std::move(labels)},
                     {"annotations", std::move(annotations)},
                     {"startsAt", format_utc(e.time, true)},
                     {"endsAt", format_utc(ends, true)}};
  return json::array{std::move(alert)};
}

}  // namespace

std::optional<webhook_format> parse_webhook_format(std::string_view text) {
  if (text == "json") return webhook_format::json;
  if (text == "slack") return webhook_format::slack;
  if (text == "ntfy") return webhook_format::ntfy;
  if (text == "alertmanager") return webhook_format::alertmanager;
  return std::nullopt;
}

std::string_view resolves(std::string_view name) {
  for (const auto& p : pairs)
    if (p.resolves == name) return p.fires;
  return {};
}

bool wanted(std::span<const std::string> patterns, webhook_format format, std::string_view name) {
  if (listed(patterns, name)) return true;
  const auto fires = resolves(name);
  return format == webhook_format::alertmanager && !fires.empty() && listed(patterns, fires);
}

std::string summary(const event& e) {
  std::string line = words(e.name) + " on " + e.host;
  if (!e.client.empty()) line += " (client " + e.client + ")";
  if (!e.database.empty()) line += ": " + e.database;
  if (!e.error_code.empty()) line += ": " + e.error_code;
  if (!e.message.empty()) line += ": " + e.message;
  return line;
}

std::string signature(std::string_view secret, std::string_view body) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac.data(), &length);
  std::string hex = "sha256=";
  for (unsigned int i = 0; i < length; ++i)
    hex += fmt::format("{:02x}", mac[i]);
  return hex;
}

webhook_request render(const event& e, webhook_format format, std::string_view secret) {
  webhook_request r;
  switch (format) {
    case webhook_format::json:
      r.content_type = "application/json";
      r.body = to_json_text(e);
      break;
    case webhook_format::slack: {
      const char* mark = is_trouble(e.name) ? ":rotating_light:" : ":white_check_mark:";
      std::string text = fmt::format("{} *{}*", mark, summary(e));
      if (!e.run_id.empty()) text += " (run " + e.run_id + ")";
      r.content_type = "application/json";
      r.body = json_text(json::object{{"text", text}});
      break;
    }
    case webhook_format::ntfy:
      r.content_type = "text/plain; charset=utf-8";
      r.body = summary(e) + (e.run_id.empty() ? "" : " (run " + e.run_id + ")");
      r.headers = {{"Title", "pgship: " + words(e.name) +
                                 (e.database.empty() ? "" : " (" + e.database + ")")},
                   {"Priority", is_trouble(e.name) ? "high" : "default"},
                   {"Tags", is_trouble(e.name) ? "rotating_light" : "white_check_mark"}};
      break;
    case webhook_format::alertmanager:
      r.path_suffix = "/api/v2/alerts";
      r.content_type = "application/json";
      r.body = json_text(alertmanager_body(e));
      break;
  }
  if (!secret.empty()) r.headers.emplace_back("X-Pgship-Signature", signature(secret, r.body));
  return r;
}

}  // namespace pgship::events
