#include "drill/row_compare.hpp"
#include <algorithm>
#include <map>

namespace pgship::agent {

std::vector<row_mismatch> compare_rows(const std::vector<table_rows>& expected,
                                       const std::vector<table_rows>& restored,
                                       bool compare_counts) {
  // Keyed by (schema, name), not by the joined text: "a.b"."c" and "a"."b.c" are two tables.
  using key = std::pair<std::string, std::string>;
  std::map<key, const table_rows*> want;
  std::map<key, const table_rows*> got;
  for (const auto& t : expected)
    want[{t.schema, t.name}] = &t;
  for (const auto& t : restored)
    got[{t.schema, t.name}] = &t;
  std::map<key, row_mismatch> found;
  for (const auto& [k, w] : want) {
    const auto it = got.find(k);
    const auto name = k.first + "." + k.second;
    if (it == got.end()) {
      found[k] = {row_mismatch::kind::missing, name, w->rows, 0};
    } else if (!compare_counts || !w->error.empty()) {
      // Estimates, or a count the backup could not take: nothing to hold the copy to.
    } else if (!it->second->error.empty()) {
      found[k] = {row_mismatch::kind::uncounted, name, w->rows, 0, it->second->error};
    } else if (it->second->rows != w->rows) {
      found[k] = {row_mismatch::kind::count, name, w->rows, it->second->rows};
    }
  }
  for (const auto& [k, g] : got) {
    if (!want.contains(k)) {
      found[k] = {row_mismatch::kind::extra, k.first + "." + k.second, 0, g->rows};
    }
  }
  std::vector<row_mismatch> out;
  out.reserve(found.size());
  for (auto& [k, m] : found)
    out.push_back(std::move(m));
  return out;
}

std::vector<std::string> compare_timescaledb(const timescaledb_facts& want,
                                             const timescaledb_facts& got) {
  std::vector<std::string> out;
  for (const auto& h : want.hypertables) {
    const auto it =
        std::find_if(got.hypertables.begin(), got.hypertables.end(),
                     [&](const auto& g) { return g.schema == h.schema && g.name == h.name; });
    const auto name = h.schema + "." + h.name;
    if (it == got.hypertables.end()) {
      out.push_back(name + ": a hypertable in the backup, not in the restored copy");
    } else if (it->chunks != h.chunks || it->compressed_chunks != h.compressed_chunks) {
      out.push_back(name + ": " + std::to_string(h.chunks) + " chunks (" +
                    std::to_string(h.compressed_chunks) + " compressed) in the backup, " +
                    std::to_string(it->chunks) + " (" + std::to_string(it->compressed_chunks) +
                    ") restored");
    }
  }
  for (const auto& j : want.jobs) {
    const auto it =
        std::find_if(got.jobs.begin(), got.jobs.end(), [&](const auto& g) { return g.id == j.id; });
    if (it == got.jobs.end() || it->proc != j.proc || it->hypertable != j.hypertable ||
        it->schedule_interval != j.schedule_interval || it->scheduled != j.scheduled) {
      out.push_back("TimescaleDB job " + std::to_string(j.id) + " (" + j.proc +
                    ") is not restored as the backup had it");
    }
  }
  return out;
}

std::string describe(const row_mismatch& m) {
  switch (m.what) {
    case row_mismatch::kind::missing:
      return m.table + ": in the backup (" + std::to_string(m.expected) + " rows) but not restored";
    case row_mismatch::kind::extra:
      return m.table + ": restored (" + std::to_string(m.restored) +
             " rows) but not in the backup's table list";
    case row_mismatch::kind::uncounted:
      return m.table + ": " + std::to_string(m.expected) +
             " rows in the backup, and the restored copy cannot be counted: " + m.error;
    case row_mismatch::kind::count:
      break;
  }
  return m.table + ": " + std::to_string(m.expected) + " rows in the backup, " +
         std::to_string(m.restored) + " restored";
}

}  // namespace pgship::agent
