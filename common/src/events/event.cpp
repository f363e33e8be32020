#include <array>
#include <cstdlib>
#include <random>

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <pgship/common/events/event.hpp>
#include <pgship/common/host_name.hpp>
#include <pgship/common/json_text.hpp>
#include <pgship/common/time_text.hpp>
#include <pgship/common/version.hpp>

namespace pgship::events {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 12> names = {
    "backup.succeeded",  "backup.failed", "drill.succeeded", "drill.failed", "basebackup.succeeded",
    "basebackup.failed", "wal.lag",       "wal.caught_up",   "wal.gap",      "scrub.finding",
    "storage.low",       "storage.ok"};

std::string fresh_id(std::chrono::system_clock::time_point now) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return fmt::format("{:013x}-{:016x}", ms, random());
}

}  // namespace

std::span<const std::string_view> known_event_names() {
  return names;
}

event make_event(std::string name, std::string source) {
  event e;
  // Milliseconds, as the JSON carries it: a spooled event reads back the same.
  e.time =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  e.id = fresh_id(e.time);
  e.name = std::move(name);
  e.source = std::move(source);
  static const std::string host = host_name();
  e.host = host;
  e.version = std::string(pgship::version);
  return e;
}

bool listed(std::span<const std::string> patterns, std::string_view name) {
  const auto dot = name.find('.');
  const auto kind = name.substr(0, dot);
  const auto outcome = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  for (const auto& p : patterns) {
    if (p == "*" || p == name) return true;
    if (p.ends_with(".*") && std::string_view(p).substr(0, p.size() - 2) == kind) return true;
    if (p.starts_with("*.") && std::string_view(p).substr(2) == outcome) return true;
  }
  return false;
}

std::vector<std::string> unknown_patterns(std::span<const std::string> patterns) {
  std::vector<std::string> out;
  for (const auto& p : patterns) {
    bool matches = false;
    for (const auto n : names)
      matches = matches || listed(std::span<const std::string>(&p, 1), n);
    if (!matches) out.push_back(p);
  }
  return out;
}

json::object to_json(const event& e) {
  json::object o{{"schema", schema_v1},
                 {"id", e.id},
                 {"event", e.name},
                 {"source", e.source},
                 {"time", format_utc(e.time, true)},
                 {"host", e.host},
                 {"version", e.version}};
  const auto put = [&o](std::string_view key, const std::string& value) {
    if (!value.empty()) o[key] = value;
  };
  put("client", e.client);
  put("database", e.database);
  put("run_id", e.run_id);
  put("result", e.result);
  if (!e.error_code.empty()) {
    o["error"] =
        json::object{{"code", e.error_code}, {"exit_code", e.exit_code}, {"message", e.message}};
  } else {
    put("message", e.message);
  }
  put("backup", e.backup);
  if (e.size_bytes) o["size_bytes"] = *e.size_bytes;
  if (e.duration_seconds) o["duration_seconds"] = *e.duration_seconds;
  put("recovered_to", e.recovered_to);
  if (!e.details.empty()) o["details"] = e.details;
  return o;
}

std::string to_json_text(const event& e) {
  return json_text(to_json(e));
}

std::optional<event> from_json(std::string_view text) {
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.as_object();
  if (text_of(o, "schema") != schema_v1) return std::nullopt;
  event e;
  e.id = text_of(o, "id");
  e.name = text_of(o, "event");
  e.source = text_of(o, "source");
  const auto time_text = text_of(o, "time");
  const auto when = parse_utc(time_text);
  if (e.id.empty() || e.name.empty() || !when) return std::nullopt;
  e.time = *when;
  // parse_utc reads whole seconds; format_utc wrote milliseconds (".123Z").
  if (const auto dot = time_text.find('.');
      dot != std::string::npos && time_text.size() == dot + 5) {
    e.time += std::chrono::milliseconds(std::atoi(time_text.substr(dot + 1, 3).c_str()));
  }
  e.host = text_of(o, "host");
  e.version = text_of(o, "version");
  e.client = text_of(o, "client");
  e.database = text_of(o, "database");
  e.run_id = text_of(o, "run_id");
  e.result = text_of(o, "result");
  e.message = text_of(o, "message");
  if (const auto* err = o.if_contains("error"); err != nullptr && err->is_object()) {
    const auto& eo = err->as_object();
    e.error_code = text_of(eo, "code");
    e.message = text_of(eo, "message");
    if (const auto* x = eo.if_contains("exit_code"); x != nullptr && x->is_int64())
      e.exit_code = static_cast<int>(x->as_int64());
  }
  e.backup = text_of(o, "backup");
  if (const auto* v = o.if_contains("size_bytes"); v != nullptr && v->is_number())
    e.size_bytes = v->to_number<std::uint64_t>();
  if (const auto* v = o.if_contains("duration_seconds"); v != nullptr && v->is_number())
    e.duration_seconds = v->to_number<double>();
  e.recovered_to = text_of(o, "recovered_to");
  if (const auto* v = o.if_contains("details"); v != nullptr && v->is_object())
    e.details = v->as_object();
  return e;
}

}  // namespace pgship::events
