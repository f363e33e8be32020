#include "policy/retention_plan.hpp"
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace pgship::receiver {
namespace {

constexpr std::string_view pitr_rule = "PITR window";
constexpr std::string_view no_rule = "no rule set";

using time_point = std::chrono::system_clock::time_point;

std::int64_t unix_ms(time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Per system: the complete base backups (stored, marked) and the anchor among them.
struct system_window {
  std::vector<const wire::wal::basebackup_mark*> complete;  // oldest stop first
  const wire::wal::basebackup_mark* anchor = nullptr;
};

system_window window_of(const retained_system& system, const std::set<std::string>& stored,
                        std::int64_t window_start_ms) {
  system_window w;
  for (const auto& m : system.marks) {
    if (stored.contains(m.id)) w.complete.push_back(&m);
  }
  std::sort(w.complete.begin(), w.complete.end(), [](const auto* a, const auto* b) {
    return std::tie(a->stop_time_ms, a->id) < std::tie(b->stop_time_ms, b->id);
  });
  for (const auto* m : w.complete) {
    if (m->stop_time_ms <= window_start_ms) w.anchor = m;
  }
  if (!w.anchor && !w.complete.empty()) w.anchor = w.complete.front();
  return w;
}

// GFS (when set) and the window (when set) for one kind and database; neither set keeps all.
std::vector<retention_item_verdict> judge_backups(
    const std::vector<const retained_backup*>& group, const retention_settings& rules,
    time_point now, const std::map<std::string, std::vector<std::string>>& pitr_keeps,
    bool pitr_applies) {
  std::vector<retention_item> items;
  for (const auto* b : group)
    items.push_back({b->id, b->taken});
  std::vector<retention_item_verdict> out;
  // The newest base backup stays under the window alone too (GFS keeps it when GFS is on):
  // whatever its marks say, the newest physical copy is never what retention takes.
  bool newest_kept = rules.gfs.enabled() || !pitr_applies;
  for (auto& v : explain_retention(items, rules.gfs, now)) {
    retention_item_verdict verdict{v.id, {}};
    for (const auto rule : v.kept_by)
      verdict.kept_by.emplace_back(to_string(rule));
    if (!newest_kept && v.kept_by.empty()) {
      verdict.kept_by.emplace_back(to_string(retention_rule::newest));
      newest_kept = true;
    }
    if (pitr_applies) {
      if (const auto it = pitr_keeps.find(v.id); it != pitr_keeps.end()) {
        verdict.kept_by.insert(verdict.kept_by.end(), it->second.begin(), it->second.end());
      }
    }
    if (!rules.gfs.enabled() && !pitr_applies) verdict.kept_by.emplace_back(no_rule);
    out.push_back(std::move(verdict));
  }
  return out;
}

bool overlaps(wal::lsn from, wal::lsn to, wal::lsn first, wal::lsn end) {
  return from < end && first < to;
}

}  // namespace

client_retention_plan plan_retention(const client_holdings& holdings,
                                     const retention_settings& rules, time_point now) {
  client_retention_plan plan{holdings.client, {}, {}};
  const bool pitr_on = rules.pitr_keep_days.has_value();
  const auto window_start =
      now - std::chrono::days(pitr_on ? std::max(*rules.pitr_keep_days, 0) : 0);
  const auto window_start_ms = unix_ms(window_start);

  std::set<std::string> stored;
  for (const auto& b : holdings.backups)
    stored.insert(b.id);

  // The window's verdicts on base backups, per system.
  std::map<std::string, std::vector<std::string>> pitr_keeps;
  std::set<std::string> marked;
  std::vector<system_window> windows;
  for (const auto& system : holdings.systems) {
    windows.push_back(window_of(system, stored, window_start_ms));
    const auto& w = windows.back();
    for (const auto* m : w.complete) {
      marked.insert(m->id);
      if (w.anchor && m->stop_time_ms >= w.anchor->stop_time_ms) {
        pitr_keeps[m->id].emplace_back(pitr_rule);
      }
    }
  }
  // A base backup without its mark is not usable for recovery yet; one taken inside the window
  // may be marked any moment, so only older ones go.
  for (const auto& b : holdings.backups) {
    if (b.kind == backup_kind::basebackup && !marked.contains(b.id) && b.taken > window_start) {
      pitr_keeps[b.id].emplace_back("inside the PITR window, not marked complete yet");
    }
  }

  std::map<std::pair<backup_kind, std::string>, std::vector<const retained_backup*>> groups;
  for (const auto& b : holdings.backups)
    groups[{b.kind, b.database}].push_back(&b);
  std::set<std::string> deleted_backups;
  for (const auto& [key, group] : groups) {
    const bool pitr_applies = pitr_on && key.first == backup_kind::basebackup;
    for (auto& v : judge_backups(group, rules, now, pitr_keeps, pitr_applies)) {
      if (v.deleted()) deleted_backups.insert(v.name);
      plan.backups.push_back(std::move(v));
    }
  }

  for (std::size_t i = 0; i < holdings.systems.size(); ++i) {
    const auto& system = holdings.systems[i];
    const auto& w = windows[i];
    system_retention_plan sp;
    sp.system = system.system;
    sp.segment_size = system.segment_size;
    for (const auto& m : system.marks) {
      if (!stored.contains(m.id) || deleted_backups.contains(m.id))
        sp.marks_deleted.push_back(m.id);
    }
    if (!pitr_on) {
      sp.why_all_wal_kept = "PITR_KEEP_DAYS is not set";
    } else if (!w.anchor) {
      sp.why_all_wal_kept = "no complete base backup";
    } else if (!wal::valid_segment_size(system.segment_size)) {
      sp.why_all_wal_kept = "the segment size is not known";
    } else {
      sp.anchor = w.anchor->id;
      // From the lowest start of the anchor and every newer base backup: after a recovery into
      // this archive a newer backup on the branch may start below the anchor's start.
      sp.kept_from = w.anchor->start_lsn;
      for (const auto* m : w.complete) {
        if (m->stop_time_ms >= w.anchor->stop_time_ms)
          sp.kept_from = std::min(*sp.kept_from, m->start_lsn);
      }
    }
    // Older base backups that stay keep the WAL from their start to their stop.
    std::vector<const wire::wal::basebackup_mark*> kept_older;
    if (sp.anchor) {
      for (const auto* m : w.complete) {
        if (m->start_lsn < *sp.kept_from && !deleted_backups.contains(m->id))
          kept_older.push_back(m);
      }
    }
    const auto first_kept_segment =
        sp.kept_from ? *sp.kept_from / system.segment_size : std::uint64_t{0};
    const auto anchor_timeline = w.anchor ? w.anchor->timeline : wal::timeline_id{0};
    for (const auto& name : system.segments) {
      retention_item_verdict v{name, {}};
      const auto segment = sp.anchor ? wal::parse_segment_name(name, system.segment_size)
                                     : std::optional<wal::segment_id>{};
      if (!sp.anchor) {
        v.kept_by.push_back(sp.why_all_wal_kept);
      } else if (!segment) {
        v.kept_by.emplace_back("not a segment name");
      } else if (segment->number >= first_kept_segment) {
        v.kept_by.emplace_back(pitr_rule);
      } else if (segment->timeline > anchor_timeline) {
        // A branch newer than the anchor's timeline: its base backup may still be on its way.
        v.kept_by.emplace_back("a timeline after the anchor's");
      } else {
        for (const auto* m : kept_older) {
          if (segment->number >= m->start_lsn / system.segment_size &&
              segment->number <= m->stop_lsn / system.segment_size) {
            v.kept_by.push_back("WAL of " + m->id);
          }
        }
      }
      sp.segments.push_back(std::move(v));
    }
    if (sp.anchor) {
      const wal::lsn cut = first_kept_segment * system.segment_size;
      for (const auto& gap : system.gaps) {
        if (gap.to > cut || gap.timeline > anchor_timeline) continue;
        const bool in_kept = std::any_of(kept_older.begin(), kept_older.end(), [&](const auto* m) {
          const auto first = m->start_lsn / system.segment_size * system.segment_size;
          const auto end = (m->stop_lsn / system.segment_size + 1) * system.segment_size;
          return overlaps(gap.from, gap.to, first, end);
        });
        if (!in_kept) sp.gaps_deleted.push_back(gap);
      }
    }
    std::sort(sp.segments.begin(), sp.segments.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    plan.systems.push_back(std::move(sp));
  }
  return plan;
}

}  // namespace pgship::receiver
