#include "api/wal/segment_chain.hpp"
#include <algorithm>

namespace pgship::receiver {

segment_chain choose_chain(std::vector<chain_unit> units, std::uint64_t segment_size,
                           bool wal_beyond_segment) {
  std::sort(units.begin(), units.end(), [](const chain_unit& a, const chain_unit& b) {
    return a.start != b.start ? a.start < b.start : a.end > b.end;
  });
  segment_chain chain;
  std::uint32_t furthest = 0;  // the end of any unit of the segment
  for (const auto& u : units)
    furthest = std::max(furthest, u.end);
  std::size_t next = 0;  // units before it start at or before chain.end
  for (;;) {
    const chain_unit* best = nullptr;
    for (; next < units.size() && units[next].start <= chain.end; ++next) {
      // On equal reach the later start wins: fewer bytes fetched twice.
      if (!best || units[next].end >= best->end) best = &units[next];
    }
    if (!best || best->end <= chain.end) break;
    chain.units.push_back(*best);
    chain.end = best->end;
  }
  const bool starts_at_zero = !units.empty() && units.front().start == 0;
  if (!starts_at_zero) {
    chain.units.clear();
    chain.end = 0;
    chain.verdict = chain_verdict::gap;
  } else if (chain.end >= segment_size) {
    chain.verdict = chain_verdict::complete;
  } else if (furthest > chain.end || wal_beyond_segment) {
    chain.verdict = chain_verdict::gap;
  } else {
    chain.verdict = chain_verdict::partial;
  }
  return chain;
}

}  // namespace pgship::receiver
