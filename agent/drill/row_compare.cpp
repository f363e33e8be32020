#include "drill/row_compare.hpp"
#include <map>

namespace pgship::agent {

std::vector<row_mismatch> compare_rows(const std::vector<table_rows>& expected,
                                       const std::vector<table_rows>& restored,
                                       bool compare_counts) {
  // Keyed by (schema, name), not by the joined text: "a.b"."c" and "a"."b.c" are two tables.
  using key = std::pair<std::string, std::string>;
  std::map<key, std::uint64_t> want;
  std::map<key, std::uint64_t> got;
  for (const auto& t : expected)
    want[{t.schema, t.name}] = t.rows;
  for (const auto& t : restored)
    got[{t.schema, t.name}] = t.rows;
  std::map<key, row_mismatch> found;
  for (const auto& [k, rows] : want) {
    const auto it = got.find(k);
    if (it == got.end()) {
      found[k] = {row_mismatch::kind::missing, k.first + "." + k.second, rows, 0};
    } else if (compare_counts && it->second != rows) {
      found[k] = {row_mismatch::kind::count, k.first + "." + k.second, rows, it->second};
    }
  }
  for (const auto& [k, rows] : got) {
    if (!want.contains(k)) {
      found[k] = {row_mismatch::kind::extra, k.first + "." + k.second, 0, rows};
    }
  }
  std::vector<row_mismatch> out;
  out.reserve(found.size());
  for (auto& [k, m] : found)
    out.push_back(std::move(m));
  return out;
}

std::string describe(const row_mismatch& m) {
  switch (m.what) {
    case row_mismatch::kind::missing:
      return m.table + ": in the backup (" + std::to_string(m.expected) + " rows) but not restored";
    case row_mismatch::kind::extra:
      return m.table + ": restored (" + std::to_string(m.restored) +
             " rows) but not in the backup's table list";
    case row_mismatch::kind::count:
      break;
  }
  return m.table + ": " + std::to_string(m.expected) + " rows in the backup, " +
         std::to_string(m.restored) + " restored";
}

}  // namespace pgship::agent
