#include "daemon/history_results.hpp"
#include <algorithm>
#include <map>

#include <pgship/common/time_text.hpp>

namespace pgship::agent {
namespace json = boost::json;

namespace {

std::string error_message(const json::object& entry) {
  const auto* e = entry.if_contains("error");
  if (e == nullptr || !e->is_object()) return {};
  const auto* m = e->get_object().if_contains("message");
  return m != nullptr && m->is_string() ? std::string(m->get_string()) : std::string();
}

bool is(const json::object& o, std::string_view key, std::string_view value) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() && v->get_string() == value;
}

}  // namespace

std::vector<history_result> history_results(const std::vector<json::object>& runs) {
  std::vector<history_result> out;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    const auto* dbs = it->if_contains("databases");
    const auto* finished = it->if_contains("finished");
    if (dbs == nullptr || !dbs->is_array() || finished == nullptr || !finished->is_string()) {
      continue;
    }
    const bool drill = is(*it, "kind", "drill");  // no kind: a run from before drills existed
    const auto at = parse_utc(finished->get_string());
    for (const auto& d : dbs->get_array()) {
      if (!d.is_object()) continue;
      const auto& o = d.get_object();
      const auto* name = o.if_contains("database");
      const auto* result = o.if_contains("result");
      if (name == nullptr || !name->is_string() || result == nullptr || !result->is_string()) {
        continue;
      }
      // A cancelled or skipped run is not a failed backup: health is the last finished one.
      if (result->get_string() == "cancelled" || result->get_string() == "skipped") continue;
      // An archive or the globals may share a database's name, never its results.
      const bool globals = is(o, "kind", "globals");
      if (is(o, "kind", "basebackup")) {
        history_result r;
        r.of = history_result::subject::basebackup;
        r.ok = result->get_string() == "ok";
        r.error = r.ok ? std::string() : error_message(o);
        r.at = at;
        if (const auto* size = o.if_contains("size"); size != nullptr && size->is_number()) {
          r.size = size->to_number<std::uint64_t>();
        }
        out.push_back(std::move(r));
        continue;
      }
      if (is(o, "kind", "pitr_drill")) {
        history_result r;
        r.of = history_result::subject::pitr_drill;
        r.ok = result->get_string() == "ok";
        r.error = r.ok ? std::string() : error_message(o);
        r.at = at;
        if (const auto* dr = o.if_contains("drill"); dr != nullptr && dr->is_object()) {
          const auto& p = dr->get_object();
          if (const auto* s = p.if_contains("recovery_seconds"); s != nullptr && s->is_number())
            r.seconds = s->to_number<double>();
          if (const auto* t = p.if_contains("recovered_to_ms"); t != nullptr && t->is_number())
            r.recovered_to_ms = t->to_number<std::int64_t>();
        }
        out.push_back(std::move(r));
        continue;
      }
      if (o.if_contains("kind") != nullptr && !globals) continue;
      if (globals && drill) continue;
      history_result r;
      r.of = globals ? history_result::subject::globals
             : drill ? history_result::subject::drill
                     : history_result::subject::backup;
      if (!globals) r.database = std::string(name->get_string());
      r.ok = result->get_string() == "ok";
      r.error = r.ok ? std::string() : error_message(o);
      r.at = at;
      out.push_back(std::move(r));
    }
  }
  return out;
}

void apply_history_results(const std::vector<history_result>& results,
                           const std::vector<std::string>& databases, agent_metrics& metrics) {
  struct drill_state {
    bool ok = false;
    std::optional<std::chrono::system_clock::time_point> last_success;
  };
  std::map<std::string, drill_state> drills;
  for (const auto& r : results) {
    if (r.of == history_result::subject::globals) {
      metrics.globals_known(r.ok, r.at);
      continue;
    }
    if (r.of == history_result::subject::basebackup) {
      if (r.ok && r.at) metrics.basebackup_known(*r.at, r.size);
      continue;
    }
    if (r.of == history_result::subject::pitr_drill) {
      if (r.at) metrics.pitr_drill_known(r.ok, *r.at, r.seconds, r.recovered_to_ms);
      continue;
    }
    if (std::find(databases.begin(), databases.end(), r.database) == databases.end()) continue;
    if (r.of == history_result::subject::drill) {
      auto& d = drills[r.database];
      d.ok = r.ok;
      if (r.ok && r.at) d.last_success = r.at;
      continue;
    }
    metrics.backup_known(r.database, r.ok);
    if (r.ok && r.at) metrics.last_success(r.database, *r.at);
  }
  for (const auto& [database, d] : drills)
    metrics.drill_known(database, d.ok, d.last_success);
}

}  // namespace pgship::agent
