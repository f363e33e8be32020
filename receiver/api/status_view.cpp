#include "api/status_view.hpp"
#include <algorithm>
#include <map>
#include <set>

#include <boost/json/array.hpp>

#include <pgship/common/time_text.hpp>

namespace pgship::receiver {

namespace json = boost::json;
using sys_clock = std::chrono::system_clock;

namespace {

json::value newest_drill(const std::deque<wire::drill_report>* drills, std::string_view kind) {
  if (drills == nullptr) return nullptr;
  for (auto it = drills->rbegin(); it != drills->rend(); ++it) {
    if (it->drill != kind) continue;
    auto o = wire::to_json(*it);
    o.erase("kind");
    return o;
  }
  return nullptr;
}

// The newest size against the median of those before it: a dump a tenth of its usual size
// is a database emptied, or a filter gone wrong.
json::value size_outlier(const std::vector<const wire::backup_record*>& shown) {
  if (shown.size() < 5) return nullptr;
  std::vector<std::uint64_t> earlier;
  for (std::size_t i = 0; i + 1 < shown.size(); ++i)
    earlier.push_back(shown[i]->size);
  std::nth_element(earlier.begin(), earlier.begin() + earlier.size() / 2, earlier.end());
  const auto median = earlier[earlier.size() / 2];
  if (median == 0) return nullptr;
  const auto& newest = *shown.back();
  const double ratio = static_cast<double>(newest.size) / static_cast<double>(median);
  if (ratio >= 0.5 && ratio <= 2.0) return nullptr;
  return json::object{
      {"id", newest.id}, {"size", newest.size}, {"median", median}, {"ratio", ratio}};
}

json::object database_status(const std::string& database,
                             std::vector<const wire::backup_record*> records,
                             const client_reports& reports, bool scheduled,
                             sys_clock::time_point now) {
  std::sort(records.begin(), records.end(),
            [](const auto* a, const auto* b) { return a->taken < b->taken; });
  json::object o{{"database", database}};
  const wire::backup_record* newest = records.empty() ? nullptr : records.back();
  const auto interval = reports.schedule && scheduled ? reports.schedule->interval_seconds : 0;
  std::optional<double> age;
  if (newest != nullptr) {
    age = std::chrono::duration<double>(now - newest->taken).count();
    o["newest"] = json::object{
        {"id", newest->id}, {"taken", format_utc(newest->taken)}, {"size", newest->size}};
    o["age_seconds"] = std::max(0.0, std::round(*age));
  } else {
    o["newest"] = nullptr;
    o["age_seconds"] = nullptr;
  }
  o["expected_interval_seconds"] = interval > 0 ? json::value(interval) : json::value(nullptr);
  if (newest == nullptr) {
    o["state"] = "missing";
  } else if (interval == 0) {
    o["state"] = "unknown";
  } else {
    o["state"] = *age <= late_after_intervals * static_cast<double>(interval) ? "ok" : "late";
  }
  const auto first = records.size() > sizes_shown ? records.size() - sizes_shown : 0;
  std::vector<const wire::backup_record*> shown(records.begin() + static_cast<long>(first),
                                                records.end());
  json::array sizes;
  for (const auto* r : shown)
    sizes.push_back(
        json::object{{"id", r->id}, {"taken", format_utc(r->taken)}, {"size", r->size}});
  o["sizes"] = std::move(sizes);
  o["size_outlier"] = size_outlier(shown);
  const auto drills = reports.drills.find(database);
  const auto* list = drills == reports.drills.end() ? nullptr : &drills->second;
  o["drills"] = json::object{{"logical", newest_drill(list, "logical")},
                             {"pitr", newest_drill(list, "pitr")}};
  const auto findings = reports.findings.find(database);
  json::object scrub{{"findings", 0}, {"last_finding", nullptr}};
  if (findings != reports.findings.end() && !findings->second.empty()) {
    const auto& last = findings->second.back();
    scrub["findings"] = findings->second.size();
    scrub["last_finding"] =
        json::object{{"id", last.backup}, {"problem", last.problem}, {"found", last.found}};
  }
  o["scrub"] = std::move(scrub);
  return o;
}

json::object archive_status(const wire::wal::archive_state& a, sys_clock::time_point now) {
  json::object o{{"system", a.system}, {"gaps", a.gaps.size()}};
  o["timeline"] = a.timelines.empty() ? 0 : a.timelines.back().timeline;
  if (a.pitr) {
    const sys_clock::time_point from{std::chrono::milliseconds(a.pitr->oldest_ms)};
    const sys_clock::time_point to{std::chrono::milliseconds(a.pitr->newest_ms)};
    o["window_from"] = format_utc(from, true);
    o["window_to"] = format_utc(to, true);
    o["lag_seconds"] =
        std::round(std::max(0.0, std::chrono::duration<double>(now - to).count()) * 10) / 10;
  } else {
    o["window_from"] = nullptr;
    o["window_to"] = nullptr;
    o["lag_seconds"] = nullptr;
  }
  o["basebackups"] = a.basebackups.size();
  return o;
}

}  // namespace

json::object client_status(const std::string& client,
                           const std::vector<wire::backup_record>& records,
                           const client_reports& reports,
                           const std::vector<wire::wal::archive_state>& archives,
                           sys_clock::time_point now) {
  std::map<std::string, std::vector<const wire::backup_record*>> by_database;
  for (const auto& r : records)
    by_database[r.database].push_back(&r);
  std::set<std::string> scheduled;
  if (reports.schedule)
    scheduled.insert(reports.schedule->databases.begin(), reports.schedule->databases.end());
  std::set<std::string> names = scheduled;
  for (const auto& [db, list] : by_database)
    names.insert(db);
  for (const auto& [db, list] : reports.drills)
    names.insert(db);
  for (const auto& [db, list] : reports.findings)
    names.insert(db);
  json::array dbs;
  for (const auto& name : names) {
    const auto it = by_database.find(name);
    dbs.push_back(database_status(
        name, it == by_database.end() ? std::vector<const wire::backup_record*>{} : it->second,
        reports, scheduled.count(name) > 0, now));
  }
  json::array systems;
  for (const auto& a : archives)
    systems.push_back(archive_status(a, now));
  json::object o{
      {"client", client}, {"databases", std::move(dbs)}, {"archives", std::move(systems)}};
  if (reports.schedule) {
    const auto& s = *reports.schedule;
    o["schedule"] = s.schedule;
    o["drill_schedule"] =
        s.drill_schedule.empty() ? json::value(nullptr) : json::value(s.drill_schedule);
    o["pitr_drill_schedule"] =
        s.pitr_drill_schedule.empty() ? json::value(nullptr) : json::value(s.pitr_drill_schedule);
    o["reported"] = s.reported;
    o["agent"] = json::object{{"host", s.host}, {"version", s.version}};
  } else {
    o["schedule"] = nullptr;
    o["drill_schedule"] = nullptr;
    o["pitr_drill_schedule"] = nullptr;
    o["reported"] = nullptr;
  }
  return o;
}

}  // namespace pgship::receiver
