#pragma once
// Which of a segment's stored units restore_command joins, and whether they make the segment
// (GET /api/wal/{system}/segments/{file}). Units may overlap (a different cut after a restart
// holds the same bytes), so the chain is chosen greedily: from offset 0, among the units that
// start at or before the end reached so far, the one reaching furthest; it stops at a hole.

#include <cstdint>
#include <string>
#include <vector>

namespace pgship::receiver {

struct chain_unit {
  std::string file;  // stored name
  std::uint32_t start = 0;
  std::uint32_t end = 0;  // exclusive
  bool operator==(const chain_unit&) const = default;
};

enum class chain_verdict {
  complete,  // the chain reaches the segment's end
  partial,   // it stops short, and no WAL of the timeline lies beyond it: the newest segment
  gap,       // it does not start at 0, or stops short while later WAL exists
};

struct segment_chain {
  chain_verdict verdict = chain_verdict::gap;
  std::vector<chain_unit> units;  // in the order to join them
  std::uint32_t end = 0;          // how far they reach
};

/// `units` are the segment's (any order); `wal_beyond_segment` says whether the timeline has
/// WAL past the segment's end. A segment with no unit is a gap (the route answers 404 first).
segment_chain choose_chain(std::vector<chain_unit> units, std::uint64_t segment_size,
                           bool wal_beyond_segment);

}  // namespace pgship::receiver
