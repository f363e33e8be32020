#include "state/wal_index.hpp"
#include <algorithm>
#include <tuple>

#include <pgship/common/wal/wal_names.hpp>

namespace pgship::receiver {
namespace {

namespace wal_wire = wire::wal;

// A unit's timeline and the span of WAL it holds, from its name.
struct unit_span {
  wal::timeline_id timeline = 0;
  wal::lsn from = 0;
  wal::lsn to = 0;
};

std::optional<unit_span> span_of(std::string_view file_name, std::uint64_t segment_size) {
  const auto unit = wal::parse_unit_name(file_name);
  if (!unit) return std::nullopt;
  const auto segment = wal::parse_segment_name(unit->segment, segment_size);
  if (!segment) return std::nullopt;
  const auto base = segment->start(segment_size);
  return unit_span{segment->timeline, base + unit->start, base + unit->end};
}

}  // namespace

void wal_index::system_index::add(std::string_view file_name) {
  if (const auto history = wal::parse_history_file(file_name)) {
    histories.insert(history->timeline);
    return;
  }
  const auto span = span_of(file_name, segment_size);
  if (!span) return;
  auto from = span->from;
  auto to = span->to;
  auto& runs = ranges[span->timeline];
  // Merge with every run that overlaps or touches [from, to).
  auto it = runs.upper_bound(from);
  if (it != runs.begin() && std::prev(it)->second >= from) --it;
  while (it != runs.end() && it->first <= to) {
    from = std::min(from, it->first);
    to = std::max(to, it->second);
    it = runs.erase(it);
  }
  runs.emplace(from, to);
}

void wal_index::system_index::add_switch(std::string_view file_name,
                                         std::string_view timeline_switch) {
  const auto history = wal::parse_history_file(file_name);
  const auto point = wal_wire::decode_switch(timeline_switch);
  if (!history || !point) return;
  switches.insert_or_assign(history->timeline, receiver::timeline_switch{point->parent, point->at});
}

void wal_index::system_index::add_samples(std::string_view file_name, std::string_view time_map) {
  const auto span = span_of(file_name, segment_size);
  const auto decoded = wal_wire::decode_time_map(time_map);
  if (!span || !decoded || decoded->empty()) return;
  auto& kept = samples[span->timeline];
  for (const auto& s : *decoded)
    kept.insert_or_assign(s.position, s.unix_ms);
  while (kept.size() > samples_kept)
    kept.erase(kept.begin());
}

void wal_index::system_index::add_gap(const wal_wire::gap_record& gap) {
  for (const auto& g : gaps)
    if (g.same_gap(gap)) return;
  gaps.push_back(gap);
  std::sort(gaps.begin(), gaps.end(), [](const auto& a, const auto& b) {
    return std::tie(a.timeline, a.from, a.to) < std::tie(b.timeline, b.from, b.to);
  });
}

window_input wal_index::system_index::window_inputs() const {
  window_input in;
  for (const auto& [timeline, runs] : ranges) {
    auto& out = in.ranges[timeline];
    for (const auto& [from, to] : runs)
      out.push_back({from, to});
  }
  for (const auto& [timeline, kept] : samples) {
    auto& out = in.samples[timeline];
    for (const auto& [position, ms] : kept)
      out.push_back({ms, position});
  }
  for (const auto& [id, mark] : marks)
    in.backups.push_back(mark);
  in.gaps = gaps;
  in.switches = switches;
  return in;
}

std::uint64_t wal_index::system_index::limiting_gaps() const {
  const wal_wire::basebackup_mark* newest = nullptr;
  for (const auto& [id, mark] : marks) {
    if (!newest ||
        std::tie(mark.timeline, mark.start_lsn) > std::tie(newest->timeline, newest->start_lsn))
      newest = &mark;
  }
  if (!newest) return gaps.size();
  return static_cast<std::uint64_t>(std::count_if(gaps.begin(), gaps.end(), [&](const auto& g) {
    return g.timeline > newest->timeline ||
           (g.timeline == newest->timeline && g.to > newest->start_lsn);
  }));
}

result<wal_index::system_index*> wal_index::load(const wal_store& store, const wal_key& key) {
  const auto k = key_of(key);
  if (const auto it = systems_.find(k); it != systems_.end()) return &it->second;
  const auto meta = store.system_meta(key);
  if (!meta) return meta.error();
  if (!*meta) return nullptr;
  const auto names = store.list_names(key);
  if (!names) return names.error();
  auto gaps = store.list_gaps(key);
  if (!gaps) return gaps.error();
  auto marks = store.list_basebackup_marks(key);
  if (!marks) return marks.error();
  system_index index;
  index.segment_size = (*meta)->segment_size;
  // Per timeline, the units newest first: their sidecars hold the samples the window needs.
  std::map<wal::timeline_id, std::vector<std::pair<wal::lsn, std::string>>> newest_units;
  for (const auto& name : *names) {
    index.add(name);
    // A history file's sidecar says where its timeline branched off (a few files a system).
    if (wal::parse_history_file(name)) {
      if (const auto parsed = parse_wal_file_name(name)) {
        const auto file = store.find(key, *parsed);
        if (!file) return file.error();
        if (*file) index.add_switch(name, (*file)->meta.timeline_switch);
      }
    }
    if (const auto span = span_of(name, index.segment_size))
      newest_units[span->timeline].emplace_back(span->to, name);
  }
  for (auto& [timeline, units] : newest_units) {
    std::sort(units.begin(), units.end(), std::greater<>());
    std::size_t read = 0;
    for (const auto& [end, name] : units) {
      if (read++ == sidecars_read || index.samples.contains(timeline)) break;
      const auto parsed = parse_wal_file_name(name);
      if (!parsed) continue;
      const auto file = store.find(key, *parsed);
      if (!file) return file.error();
      if (*file) index.add_samples(name, (*file)->meta.time_map);
    }
  }
  for (const auto& gap : *gaps)
    index.add_gap(gap);
  for (auto& mark : *marks)
    index.marks.insert_or_assign(mark.id, std::move(mark));
  index.recompute();
  return &systems_.insert_or_assign(k, std::move(index)).first->second;
}

result<std::optional<wal_wire::archive_state>> wal_index::state(const wal_store& store,
                                                                const wal_key& key) {
  std::lock_guard lock(mutex_);
  const auto loaded = load(store, key);
  if (!loaded) return loaded.error();
  if (!*loaded) return std::nullopt;
  const auto& index = **loaded;
  wal_wire::archive_state out;
  out.system = key.system;
  out.segment_size = index.segment_size;
  std::set<wal::timeline_id> timelines(index.histories);
  for (const auto& [timeline, runs] : index.ranges)
    timelines.insert(timeline);
  for (const auto timeline : timelines) {
    wal_wire::timeline_state t;
    t.timeline = timeline;
    t.history = index.histories.contains(timeline);
    if (const auto runs = index.ranges.find(timeline); runs != index.ranges.end()) {
      for (const auto& [from, to] : runs->second)
        t.ranges.push_back({from, to});
    }
    out.timelines.push_back(std::move(t));
  }
  out.gaps = index.gaps;
  for (const auto& [id, mark] : index.marks)
    out.basebackups.push_back(mark);
  std::sort(out.basebackups.begin(), out.basebackups.end(), [](const auto& a, const auto& b) {
    return std::tie(a.stop_time_ms, a.id) < std::tie(b.stop_time_ms, b.id);
  });
  out.pitr = index.window;
  return out;
}

result<bool> wal_index::holds_from(const wal_store& store, const wal_key& key,
                                   wal::timeline_id timeline, wal::lsn from) {
  std::lock_guard lock(mutex_);
  const auto loaded = load(store, key);
  if (!loaded) return result<bool>(boost::system::in_place_error, loaded.error());
  if (!*loaded) return false;
  const auto runs = (*loaded)->ranges.find(timeline);
  return runs != (*loaded)->ranges.end() && !runs->second.empty() &&
         runs->second.rbegin()->second > from;
}

result<bool> wal_index::covers(const wal_store& store, const wal_key& key,
                               wal::timeline_id timeline, wal::lsn start, wal::lsn stop) {
  std::lock_guard lock(mutex_);
  const auto loaded = load(store, key);
  if (!loaded) return result<bool>(boost::system::in_place_error, loaded.error());
  if (!*loaded) return false;
  const auto runs = (*loaded)->ranges.find(timeline);
  if (runs == (*loaded)->ranges.end()) return false;
  auto it = runs->second.upper_bound(start);
  if (it == runs->second.begin()) return false;
  --it;
  // The stop position itself is the end of the WAL the backup needs: held up to it.
  return it->first <= start && stop <= it->second;
}

void wal_index::stored(const wal_key& key, std::uint64_t segment_size, std::string_view file_name,
                       std::string_view time_map, std::string_view timeline_switch) {
  std::lock_guard lock(mutex_);
  const auto it = systems_.find(key_of(key));
  if (it == systems_.end()) return;
  it->second.segment_size = segment_size;
  it->second.add(file_name);
  it->second.add_switch(file_name, timeline_switch);
  it->second.add_samples(file_name, time_map);
  it->second.recompute();
}

void wal_index::gap_recorded(const wal_key& key, const wal_wire::gap_record& gap) {
  std::lock_guard lock(mutex_);
  const auto it = systems_.find(key_of(key));
  if (it == systems_.end()) return;
  it->second.add_gap(gap);
  it->second.recompute();
}

void wal_index::marked(const wal_key& key, const wal_wire::basebackup_mark& mark) {
  std::lock_guard lock(mutex_);
  const auto it = systems_.find(key_of(key));
  if (it == systems_.end()) return;
  it->second.marks.insert_or_assign(mark.id, mark);
  it->second.recompute();
}

result<wal_client_summary> wal_index::summary(const wal_store& store, const std::string& client) {
  std::lock_guard lock(mutex_);
  std::set<std::string> systems;
  if (const auto listed = store.systems(client)) {
    systems.insert(listed->begin(), listed->end());
  } else if (listed.error() != std::errc::operation_not_supported) {
    return listed.error();
  }
  const auto prefix = client + '/';
  for (const auto& [k, index] : systems_)
    if (k.starts_with(prefix)) systems.insert(k.substr(prefix.size()));
  wal_client_summary out;
  for (const auto& system : systems) {
    const auto loaded = load(store, {client, system});
    if (!loaded) return loaded.error();
    if (!*loaded) continue;
    out.has_archive = true;
    out.limiting_gaps += (*loaded)->limiting_gaps();
    const auto& window = (*loaded)->window;
    if (window && (!out.pitr || window->newest_ms > out.pitr->newest_ms)) out.pitr = window;
  }
  return out;
}

std::error_code wal_index::reload(const wal_store& store, const wal_key& key) {
  std::lock_guard lock(mutex_);
  systems_.erase(key_of(key));
  const auto loaded = load(store, key);
  return loaded ? std::error_code{} : loaded.error();
}

std::error_code wal_index::reload_all(const wal_store& store) {
  std::lock_guard lock(mutex_);
  std::vector<wal_key> keys;
  for (const auto& [k, index] : systems_) {
    const auto slash = k.find('/');  // client names have none
    keys.push_back({k.substr(0, slash), k.substr(slash + 1)});
  }
  systems_.clear();
  std::error_code first;
  for (const auto& key : keys) {
    if (const auto loaded = load(store, key); !loaded && !first) first = loaded.error();
  }
  return first;
}

}  // namespace pgship::receiver
