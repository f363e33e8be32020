#include "state/wal_index.hpp"

#include <pgship/common/wal/wal_names.hpp>

namespace pgship::receiver {

void wal_index::system_index::add(std::string_view file_name) {
  if (const auto history = wal::parse_history_file(file_name)) {
    histories.insert(history->timeline);
    return;
  }
  const auto unit = wal::parse_unit_name(file_name);
  if (!unit) return;
  const auto segment = wal::parse_segment_name(unit->segment, segment_size);
  if (!segment) return;
  auto from = segment->start(segment_size) + unit->start;
  auto to = segment->start(segment_size) + unit->end;
  auto& runs = ranges[segment->timeline];
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

result<wal_index::system_index*> wal_index::load(const wal_store& store, const wal_key& key) {
  const auto k = key_of(key);
  if (const auto it = systems_.find(k); it != systems_.end()) return &it->second;
  const auto meta = store.system_meta(key);
  if (!meta) return meta.error();
  if (!*meta) return nullptr;
  const auto names = store.list_names(key);
  if (!names) return names.error();
  system_index index;
  index.segment_size = (*meta)->segment_size;
  for (const auto& name : *names)
    index.add(name);
  return &systems_.insert_or_assign(k, std::move(index)).first->second;
}

result<std::optional<wire::wal::archive_state>> wal_index::state(const wal_store& store,
                                                                 const wal_key& key) {
  std::lock_guard lock(mutex_);
  const auto loaded = load(store, key);
  if (!loaded) return loaded.error();
  if (!*loaded) return std::nullopt;
  const auto& index = **loaded;
  wire::wal::archive_state out;
  out.system = key.system;
  out.segment_size = index.segment_size;
  std::set<wal::timeline_id> timelines(index.histories);
  for (const auto& [timeline, runs] : index.ranges)
    timelines.insert(timeline);
  for (const auto timeline : timelines) {
    wire::wal::timeline_state t;
    t.timeline = timeline;
    t.history = index.histories.contains(timeline);
    if (const auto runs = index.ranges.find(timeline); runs != index.ranges.end()) {
      for (const auto& [from, to] : runs->second)
        t.ranges.push_back({from, to});
    }
    out.timelines.push_back(std::move(t));
  }
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

void wal_index::stored(const wal_key& key, std::uint64_t segment_size, std::string_view file_name) {
  std::lock_guard lock(mutex_);
  const auto it = systems_.find(key_of(key));
  if (it == systems_.end()) return;
  it->second.segment_size = segment_size;
  it->second.add(file_name);
}

}  // namespace pgship::receiver
