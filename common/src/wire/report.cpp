#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include <pgship/common/fs.hpp>
#include <pgship/common/json_text.hpp>
#include <pgship/common/wire/report.hpp>

namespace pgship::wire {

namespace json = boost::json;

namespace {

std::optional<std::uint64_t> count_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return std::nullopt;
}

bool short_text(const std::string& s) {
  return s.size() <= report_text_max;
}

}  // namespace

json::object to_json(const drill_report& r) {
  json::object o{{"kind", "drill"},
                 {"database", r.database},
                 {"backup", r.backup},
                 {"drill", r.drill},
                 {"result", r.result},
                 {"run_id", r.run_id},
                 {"finished", r.finished},
                 {"recovery_seconds", r.recovery_seconds},
                 {"rows", r.rows},
                 {"tables", r.tables},
                 {"mismatches", r.mismatches}};
  if (!r.recovered_to.empty()) o["recovered_to"] = r.recovered_to;
  if (!r.error.empty()) o["error"] = r.error;
  return o;
}

json::object to_json(const schedule_report& r) {
  json::array dbs;
  for (const auto& d : r.databases)
    dbs.emplace_back(d);
  return json::object{{"kind", "schedule"},
                      {"host", r.host},
                      {"version", r.version},
                      {"schedule", r.schedule},
                      {"drill_schedule", r.drill_schedule},
                      {"pitr_drill_schedule", r.pitr_drill_schedule},
                      {"time_zone", r.time_zone},
                      {"interval_seconds", r.interval_seconds},
                      {"databases", std::move(dbs)},
                      {"reported", r.reported}};
}

std::string encode_report(const report& r) {
  return json_text(r.drill ? to_json(*r.drill) : to_json(*r.schedule));
}

std::optional<report> decode_report(std::string_view text, std::string& why) {
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    why = "a report is one JSON object";
    return std::nullopt;
  }
  const auto& o = value.as_object();
  const auto kind = text_of(o, "kind");
  report out;
  if (kind == "drill") {
    drill_report d;
    d.database = text_of(o, "database");
    d.backup = text_of(o, "backup");
    d.drill = text_of(o, "drill");
    d.result = text_of(o, "result");
    d.run_id = text_of(o, "run_id");
    d.finished = text_of(o, "finished");
    d.recovered_to = text_of(o, "recovered_to");
    d.error = text_of(o, "error");
    const auto rows = count_of(o, "rows");
    const auto tables = count_of(o, "tables");
    const auto mismatches = count_of(o, "mismatches");
    const auto* secs = o.if_contains("recovery_seconds");
    if (!fs::is_safe_name(d.database) || (!d.backup.empty() && !fs::is_safe_name(d.backup)) ||
        (d.drill != "logical" && d.drill != "pitr") || (d.result != "ok" && d.result != "failed") ||
        !rows || !tables || !mismatches || secs == nullptr || !secs->is_number() ||
        secs->to_number<double>() < 0 || !short_text(d.run_id) || !short_text(d.finished) ||
        !short_text(d.recovered_to) || !short_text(d.error)) {
      why =
          "a drill report has a database and backup name, drill logical or pitr, result ok or "
          "failed, recovery_seconds, and counts that are whole numbers";
      return std::nullopt;
    }
    d.rows = *rows;
    d.tables = *tables;
    d.mismatches = *mismatches;
    d.recovery_seconds = secs->to_number<double>();
    out.drill = std::move(d);
    return out;
  }
  if (kind == "schedule") {
    schedule_report s;
    s.host = text_of(o, "host");
    s.version = text_of(o, "version");
    s.schedule = text_of(o, "schedule");
    s.drill_schedule = text_of(o, "drill_schedule");
    s.pitr_drill_schedule = text_of(o, "pitr_drill_schedule");
    s.time_zone = text_of(o, "time_zone");
    s.reported = text_of(o, "reported");
    const auto interval = count_of(o, "interval_seconds");
    bool names_ok = true;
    if (const auto* dbs = o.if_contains("databases"); dbs != nullptr && dbs->is_array()) {
      for (const auto& d : dbs->as_array()) {
        names_ok = names_ok && d.is_string() && fs::is_safe_name(d.as_string());
        if (names_ok) s.databases.emplace_back(d.as_string());
      }
    }
    if (!interval || !names_ok || s.databases.size() > 1000 || !short_text(s.host) ||
        !short_text(s.schedule) || !short_text(s.drill_schedule) ||
        !short_text(s.pitr_drill_schedule) || !short_text(s.version) || !short_text(s.time_zone) ||
        !short_text(s.reported)) {
      why = "a schedule report has text fields, interval_seconds and database names";
      return std::nullopt;
    }
    s.interval_seconds = *interval;
    out.schedule = std::move(s);
    return out;
  }
  why = "a report's kind is drill or schedule";
  return std::nullopt;
}

}  // namespace pgship::wire
